// core/dtype.h: element types of tensors, numbered as GGML numbers them (so GGUF type ids map
// directly), with their block geometry. Depends on nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sarathi::core {

/// Tensor element types. Values are GGML's type ids; only the ones listed here are supported.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,   // activations only (the dot partner of the K-quants), never a weight type
  kIQ4_NL = 20,
  kIQ4_XS = 23,
  kBF16 = 30,
};

/// Elements per block: 1 for float types, 32 for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL, 256 for the
/// K-quants and IQ4_XS.
int64_t dtype_block_size(DType t);
/// Bytes per block.
size_t dtype_block_bytes(DType t);
/// Lower-case GGML name ("f32", "q4_K", ...).
std::string_view dtype_name(DType t);
/// Parses a name as dtype_name prints it (case-insensitive); nullopt if unknown.
std::optional<DType> dtype_from_name(std::string_view name);
/// The type for a GGML type id, or nullopt when sarathi does not support it.
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
/// GGML's name for any GGML type id (also unsupported ones), for error messages.
std::string_view ggml_type_name(uint32_t ggml_type);
/// Bytes taken by a row of n elements; nullopt if n is not a multiple of the block size.
std::optional<size_t> dtype_row_bytes(DType t, int64_t n);

// The block layouts (identical to GGML's, so GGUF data is used in place).
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK4_0 = 32;
inline constexpr int kQK_K = 256;
inline constexpr int kKScaleBytes = 12;

struct BlockQ8_0 {
  uint16_t d;          // fp16 scale
  int8_t qs[kQK8_0];   // quants
};
struct BlockQ4_0 {
  uint16_t d;                  // fp16 scale
  uint8_t qs[kQK4_0 / 2];      // nibbles: low nibble = element j, high = element j+16
};
struct BlockQ4_K {
  uint16_t d;                      // fp16 super-block scale for the quantized scales
  uint16_t dmin;                   // fp16 super-block scale for the quantized mins
  uint8_t scales[kKScaleBytes];    // 8 scales and 8 mins, 6 bits each
  uint8_t qs[kQK_K / 2];           // 4-bit quants
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];       // low 4 bits of the quants
  uint8_t qh[kQK_K / 4];       // high 2 bits
  int8_t scales[kQK_K / 16];   // 8-bit scales of 16-element groups
  uint16_t d;                  // fp16 super-block scale
};
struct BlockQ8_K {
  float d;                     // f32 scale
  int8_t qs[kQK_K];            // quants
  int16_t bsums[kQK_K / 16];   // sums of each group of 16 quants
};
struct BlockQ4_1 {
  uint16_t d;                  // fp16 scale
  uint16_t m;                  // fp16 minimum: y = q * d + m
  uint8_t qs[kQK4_0 / 2];      // nibbles as in Q4_0
};
struct BlockQ5_0 {
  uint16_t d;                  // fp16 scale
  uint8_t qh[4];               // 5th bits: bit j of the little-endian u32 belongs to element j
  uint8_t qs[kQK4_0 / 2];      // low 4 bits, nibbles as in Q4_0
};
struct BlockQ5_1 {
  uint16_t d;                  // fp16 scale
  uint16_t m;                  // fp16 minimum
  uint8_t qh[4];               // 5th bits as in Q5_0
  uint8_t qs[kQK4_0 / 2];      // low 4 bits
};
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // per 16 elements: 4-bit scale (low) and 4-bit min (high)
  uint8_t qs[kQK_K / 4];       // 2-bit quants
  uint16_t d;                  // fp16 super-block scale for the scales
  uint16_t dmin;               // fp16 super-block scale for the mins
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];    // 3rd bits (a clear bit subtracts 4)
  uint8_t qs[kQK_K / 4];       // low 2 bits
  uint8_t scales[kKScaleBytes];  // 16 scales of 6 bits, offset by 32
  uint16_t d;                  // fp16 super-block scale
};
struct BlockQ5_K {
  uint16_t d;                      // fp16 super-block scale for the quantized scales
  uint16_t dmin;                   // fp16 super-block scale for the quantized mins
  uint8_t scales[kKScaleBytes];    // 8 scales and 8 mins, 6 bits each (as Q4_K)
  uint8_t qh[kQK_K / 8];           // 5th bits
  uint8_t qs[kQK_K / 2];           // low 4 bits
};
/// IQ4_NL / IQ4_XS map each 4-bit index through this non-linear table (GGML's kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};
struct BlockIQ4_NL {
  uint16_t d;                  // fp16 scale
  uint8_t qs[kQK4_0 / 2];      // table indices, nibbles as in Q4_0
};
struct BlockIQ4_XS {
  uint16_t d;                  // fp16 super-block scale
  uint16_t scales_h;           // high 2 bits of the 8 sub-block scales
  uint8_t scales_l[kQK_K / 64];  // low 4 bits of the 8 sub-block scales (offset by 32)
  uint8_t qs[kQK_K / 2];       // table indices, nibbles as in Q4_0 per 32 elements
};
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace sarathi::core
