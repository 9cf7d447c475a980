// kernels/kernels.h: the CPU op table. Every op has a scalar oracle (kernels/ref) and SIMD
// versions (kernels/cpu/<isa>), picked once at run time from cpuid or SARATHI_ISA.
// Depends on core/ only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/dtype.h"

namespace sarathi::kernels {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };

std::string_view isa_name(Isa isa);
/// True if this CPU (and OS) can run code of the given ISA level.
bool isa_supported(Isa isa);
/// The best level this CPU supports.
Isa detect_isa();
/// detect_isa(), or SARATHI_ISA=scalar|avx2|avx512|amx if set (an unsupported or unknown value
/// falls back to the best supported level below it, with a warning on stderr).
Isa active_isa();
/// Parses a SARATHI_ISA value: "scalar" (or "ref"), "avx2", "avx512", "amx", any case;
/// nullopt if unknown.
std::optional<Isa> isa_from_name(std::string_view name);
/// What active_isa() picks for a SARATHI_ISA value (null or empty: detect_isa()). An unknown
/// value gives detect_isa(), an unsupported one the best supported level below it; both print
/// one warning line on stderr. active_isa() is this applied once to getenv("SARATHI_ISA").
Isa resolve_isa(const char* requested);

/// Dequantizes n elements (n a multiple of the type's block size) to f32.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
/// Quantizes / converts n f32 values (n a multiple of the block size) into the type.
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);
/// Dot product of n elements: w is a row of the weight type, x a row of its vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

/// One block of a batched matmul y = x · Wᵀ: outputs y[t * ldy + r] for weight rows
/// [row_begin, row_end) and tokens [tok_begin, tok_end). x holds activation rows packed by
/// GemmOps::pack_x (x_row_bytes apart).
struct GemmArgs {
  const uint8_t* w = nullptr;  // [rows, k] in the weight type
  size_t w_row_bytes = 0;
  int64_t k = 0;
  const uint8_t* x = nullptr;  // [m, x_row_bytes], packed activations
  size_t x_row_bytes = 0;
  float* y = nullptr;  // [m, ldy]
  int64_t ldy = 0;
  int64_t row_begin = 0;
  int64_t row_end = 0;
  int64_t tok_begin = 0;
  int64_t tok_end = 0;
};

/// A register-blocked matmul path for one weight type. Each output is computed with the same
/// sequence of operations wherever it falls in a tile, so it is bit-identical for any batch
/// size and batch company (batch invariance). All null where a type has no such path (then
/// matmul falls back to one vec_dot per output).
struct GemmOps {
  /// Bytes of one packed activation row of k elements.
  size_t (*packed_x_bytes)(int64_t k) = nullptr;
  /// Converts one f32 activation row (k elements) into the packed layout `run` reads.
  void (*pack_x)(const float* src, void* dst, int64_t k) = nullptr;
  void (*run)(const GemmArgs& args) = nullptr;
};

/// One block of a matmul over weights in the interleaved layout of kernels/packed.h (16 rows
/// per group): outputs y[t * ldy + r] for the rows of groups [group_begin, group_end) (rows
/// past `rows` in the last group are not written) and tokens [tok_begin, tok_end). x holds
/// activation rows packed by PackedGemmOps::pack_x.
struct PackedGemmArgs {
  core::DType dtype = core::DType::kQ8_0;  // one of kernels/packed.h's kPackableTypes
  const uint8_t* w = nullptr;              // packed groups, group_bytes apart
  size_t group_bytes = 0;
  int64_t k = 0;
  int64_t rows = 0;
  const uint8_t* x = nullptr;  // [m, x_row_bytes]
  size_t x_row_bytes = 0;
  float* y = nullptr;  // [m, ldy]
  int64_t ldy = 0;
  int64_t group_begin = 0;
  int64_t group_end = 0;
  int64_t tok_begin = 0;
  int64_t tok_end = 0;
  bool stream_pairs = false;  // PackedGemmOps::stream_pairs
};

/// The matmul path over interleaved weights (kernels/packed.h). For the integer types every
/// implementation computes each output with the same arithmetic (exact int32 block sums, then
/// f32 FMAs per block in block order), so the AVX2, AVX-512 VNNI and AMX versions and the
/// scalar oracle agree bit for bit, and any mix of them over a batch keeps batch invariance.
/// bf16 (AVX512-BF16 or AMX) computes each output the same way whatever its batch. Null where
/// an ISA has no such path.
struct PackedGemmOps {
  /// Converts one f32 activation row (k elements) into the packed layout (packed_x_bytes).
  void (*pack_x)(const float* src, void* dst, int64_t k) = nullptr;
  void (*run)(const PackedGemmArgs& args) = nullptr;
  /// Few tokens (decode): each thread streams two weight groups at once and prefetches ahead,
  /// instead of one sequential stream. The outputs are the same either way (exact int32 block
  /// sums); set where it reads faster (AVX-512 on Intel, see dispatch.cpp).
  bool stream_pairs = false;
};

/// What one tensor element type can do. As in GGML, a weight row is multiplied with an
/// activation row first converted to vec_dot_type (f16 for f16 weights, q8_0 for the 32-element
/// types, q8_K for the K-quants and iq4_xs), so integer units do the inner products. (GGML pairs
/// q4_1 and q5_1 with q8_1; q8_0 gives the same products, with the activation sum exact.)
struct TypeOps {
  core::DType vec_dot_type = core::DType::kF32;
  ToFloatFn to_float = nullptr;
  FromFloatFn from_float = nullptr;
  VecDotFn vec_dot = nullptr;  // null for kQ8_K (activation-only type)
  GemmOps gemm;                // batched path; may be empty
  PackedGemmOps packed;        // path over interleaved weights; may be empty
};

/// Element offset of (block, KV head)'s region of a layer's K or V cache: block_size * head_dim
/// elements, [head_dim, block_size] in K and [block_size, head_dim] in V (kernels/ops.h).
inline size_t kv_region_offset(int32_t block, int32_t num_kv_heads, int32_t kv_head,
                               int32_t block_size, int32_t head_dim) {
  return (static_cast<size_t>(block) * static_cast<size_t>(num_kv_heads) +
          static_cast<size_t>(kv_head)) *
         static_cast<size_t>(block_size) * static_cast<size_t>(head_dim);
}

/// Bytes of one (block, KV head) region of a q8_0 cache (kernels/ops.h): block_size * head_dim
/// int8 quants, then block_size * head_dim / 32 f16 scales (head_dim a multiple of 32).
inline size_t kv_q8_region_bytes(int32_t block_size, int32_t head_dim) {
  return static_cast<size_t>(block_size) * static_cast<size_t>(head_dim) +
         static_cast<size_t>(block_size) * static_cast<size_t>(head_dim / 32) * 2;
}

/// Attention of num_q consecutive query tokens of one sequence for the `group` query heads that
/// share KV head kv_head: query i sees KV positions [0, kv_len + i) of the paged cache (see
/// kernels/ops.h). Each query's result is the same whatever num_q (batch invariance).
struct AttnGroupArgs {
  const void* k = nullptr;  // [num_blocks, num_kv_heads, head_dim, block_size], f16 or f32
  const void* v = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim], same type
  bool f16 = true;          // cache dtype: f16 (Q and P rounded to f16) or f32
  bool q8 = false;          // a q8_0 cache instead (f16 false): dequantized to f32 as it is read
  int32_t block_size = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  const int32_t* block_table = nullptr;  // [ceil((kv_len + num_q - 1) / block_size)]
  int32_t kv_len = 0;                    // positions the first query sees
  int32_t num_q = 1;
  int32_t kv_head = 0;
  int32_t group = 0;
  float scale = 1.0f;
  const float* q = nullptr;     // [num_q][group, head_dim] with rows q_stride floats apart, rotated
  float* out = nullptr;         // [num_q][group, head_dim], same strides
  int64_t q_stride = 0;         // floats from one query token to the next
  float* scratch = nullptr;     // attend_scratch_floats(kv_len + num_q - 1, ..., scratch_queries)
  int32_t scratch_queries = 1;  // queries whose scores the scratch holds at once
  // Honoured by CpuOps::attend_masked only (CpuOps::attend gets zeros): query i sees positions
  // [kv_len + i - window, kv_len + i) when window > 0, and its scaled scores s become
  // softcap * tanh(s / softcap) when softcap > 0.
  int32_t window = 0;
  float softcap = 0.0f;
};
using AttendFn = void (*)(const AttnGroupArgs& args);
/// out[i] = silu(gate[i]) * up[i] over n elements (out may alias gate).
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
/// y = x / rms(x) * w for num_rows rows of n (y may alias x).
using RmsNormFn = void (*)(const float* x, const float* w, float* y, int64_t num_rows, int64_t n,
                           float eps);

struct CpuOps {
  Isa isa = Isa::kScalar;
  TypeOps f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, q8_k;
  /// Weight types with the scalar oracle only so far (matmul takes one vec_dot per output).
  TypeOps q4_1, q5_0, q5_1, q2_k, q3_k, q5_k, iq4_nl, iq4_xs;
  /// SIMD attention for one (query token, KV head); null: the scalar loop in ops.cpp.
  AttendFn attend = nullptr;
  /// The same with a sliding window and a soft cap (AttnGroupArgs::window, softcap), for the
  /// queries they touch; null: the scalar loop.
  AttendFn attend_masked = nullptr;
  /// SIMD SwiGLU; null: kernels::swiglu (ops.h).
  SwigluFn swiglu = nullptr;
  /// SIMD gelu(gate) * up (Gemma's FFN); null: kernels::gelu_mul (ops.h).
  SwigluFn gelu = nullptr;
  /// SIMD RMSNorm; null: kernels::rms_norm (ops.h).
  RmsNormFn rms_norm = nullptr;

  /// Ops for a type; every core::DType has an entry.
  const TypeOps& type(core::DType t) const;
};

/// The AMX-INT8 tile kernels over interleaved q8_0 / q4_0 weights (empty where AMX is missing or
/// for other types). The amx op table uses them only with SARATHI_AMX_TILES=1 (they measured no
/// faster than VNNI at 2 threads); tests and `bench roofline` reach them here.
PackedGemmOps amx_tile_packed_ops(core::DType t);

/// The op table for active_isa(), chosen once (thread-safe).
const CpuOps& cpu_ops();
/// The op table for a specific level; the level must be supported (tests use this).
const CpuOps& cpu_ops_for(Isa isa);

}  // namespace sarathi::kernels
