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
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ6_K = 14,
  kQ8_K = 15,   // activations only (the dot partner of Q4_K/Q6_K), never a weight type
  kBF16 = 30,
};

/// Elements per block: 1 for float types, 32 for Q8_0/Q4_0, 256 for the K-quants.
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
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace sarathi::core
