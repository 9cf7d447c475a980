// kernels/ops.h: the transformer's non-matmul ops (RMSNorm, RoPE, SwiGLU, embedding rows) and
// the paged attention over the KV cache. Plain C++ written so the compiler vectorises it; the
// numerics follow GGML's CPU backend (double-accumulated RMSNorm, iterated RoPE angles, f16
// rounding of Q and P when the cache is f16) so the engine matches llama.cpp.
// Depends on core/ and kernels/kernels.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace sarathi::kernels {

/// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i] for each of num_rows rows of length n.
/// The sum of squares is accumulated in double, as GGML does. x and y may alias.
void rms_norm(const float* x, const float* w, float* y, int64_t num_rows, int64_t n, float eps);

enum class RopeKind {
  kNorm,  // rotates adjacent pairs (x[2i], x[2i+1]): llama
  kNeox,  // rotates (x[i], x[i + n_rot/2]): qwen2, neox
};

struct RopeParams {
  RopeKind kind = RopeKind::kNorm;
  int32_t n_rot = 0;  // rotated dims per head (<= head_dim, even)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;  // linear scaling: positions are multiplied by this
  /// Per-pair divisors of the angle (GGML's rope freq_factors: Llama 3.1's rope_freqs tensor,
  /// n_rot / 2 values), or empty.
  std::vector<float> freq_factors;
  /// YaRN (GGML's rope_yarn): pairs between the correction dims, found from beta_fast /
  /// beta_slow and n_ctx_orig, blend interpolated and extrapolated angles by ext_factor (0:
  /// plain interpolation by freq_scale); cos and sin are scaled by attn_factor, and with YaRN
  /// on by 1 + 0.1 ln(1 / freq_scale) too.
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int32_t n_ctx_orig = 0;
};

/// Rotates, in place, num_heads heads of head_dim floats for each token t at positions[t].
/// x: [num_tokens, num_heads, head_dim].
void rope(float* x, const int32_t* positions, int64_t num_tokens, int32_t num_heads,
          int32_t head_dim, const RopeParams& params);

/// out[i] = silu(gate[i]) * up[i], with silu(x) = x / (1 + exp(-x)).
void swiglu(const float* gate, const float* up, float* out, int64_t n);

/// out[i] = gelu(gate[i]) * up[i] with GGML's tanh approximation of GeLU (Gemma's FFN; out may
/// alias gate).
void gelu_mul(const float* gate, const float* up, float* out, int64_t n);

/// x[i] = cap * tanh(x[i] / cap) (Gemma 2's final logit soft-capping).
void softcap(float* x, int64_t n, float cap);

/// y[i] += x[i].
void add_inplace(float* y, const float* x, int64_t n);

/// Copies dequantized rows of a [num_rows_table, n] table (any weight type) into out.
void get_rows(const CpuOps& ops, core::DType dtype, const void* table, size_t row_bytes, int64_t n,
              const int32_t* ids, int64_t num_ids, float* out);

/// A non-owning view of one layer's paged KV cache.
struct PagedKvLayer {
  // Per block and KV head, K is stored transposed: position is the fastest index, so 16
  // positions of one head dimension are one vector for the score loops.
  // kQ8_0 (llama.cpp's --cache-type-k/v q8_0 quantization: each position's head_dim elements
  // in groups of 32 with an f16 scale, q = round(x * 127 / max|x|)): each (block, KV head)
  // region is kv_q8_region_bytes(block_size, head_dim) bytes, the int8 quants in the layout
  // above ([head_dim, block_size] for K, [block_size, head_dim] for V), then the scales
  // ([head_dim / 32, block_size] for K, [block_size, head_dim / 32] for V).
  void* k = nullptr;                      // [num_blocks, num_kv_heads, head_dim, block_size], dtype
  void* v = nullptr;                      // [num_blocks, num_kv_heads, block_size, head_dim], dtype
  core::DType dtype = core::DType::kF16;  // kF16, kF32 or kQ8_0
  int32_t num_blocks = 0;
  int32_t block_size = 16;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
};

/// One sequence's part of an attention call: its queries are rows [q_begin, q_begin + num_q)
/// of the step's Q at positions first_pos.., and it attends (causally) to KV positions
/// [0, first_pos + num_q) found through block_table.
struct AttnSeq {
  int32_t q_begin = 0;
  int32_t num_q = 0;
  int32_t first_pos = 0;
  const int32_t* block_table = nullptr;  // [ceil((first_pos + num_q) / block_size)]
};

/// Stores k and v rows ([num, num_kv_heads * head_dim] each) at positions first_pos.. of a
/// sequence, converting to the cache dtype (q8_0: quantized as GGML's quantize_row_q8_0).
void kv_store(const PagedKvLayer& kv, const int32_t* block_table, int32_t first_pos, int32_t num,
              const float* k, const float* v);
/// The same, converting with the op table's f16 / q8_0 from_float (bit-equal to the scalar ones).
void kv_store(const CpuOps& ops, const PagedKvLayer& kv, const int32_t* block_table,
              int32_t first_pos, int32_t num, const float* k, const float* v);

/// Scratch reused across attention calls (sized on first use, then never reallocated for the
/// same or smaller shapes).
struct AttnScratch {
  std::vector<float> buf;
  /// One call's work items: (sequence, block of query rows, KV head) with a cost estimate.
  struct Task {
    int64_t cost;
    int32_t seq, local0, kv_head;
  };
  std::vector<Task> tasks;
};

/// Causal attention for a mixed batch: q: [num_tokens, num_heads, head_dim] (already rotated),
/// out: [num_tokens, num_heads * head_dim]. Grouped-query: head h reads KV head
/// h / (num_heads / num_kv_heads). Scores are scaled by `scale` and soft-maxed in f32. With an
/// f16 cache, Q and the probabilities are rounded to f16 before their products (as GGML's
/// f16 mat-mul does). With a sliding window W > 0 the query at position p sees only positions
/// [p - W + 1, p] (llama.cpp's SWA mask: a key is masked when p - its position >= W). With a
/// soft cap c > 0 each scaled score s becomes c * tanh(s / c) before the softmax (Gemma 2).
void attention(const PagedKvLayer& kv, std::span<const AttnSeq> seqs, const float* q,
               int32_t num_heads, float scale, float* out, core::ThreadPool& pool,
               AttnScratch& scratch, int32_t window = 0, float softcap = 0.0f);
/// The same with the kernels of a given op table (ops.attend, or the scalar loop if null).
/// Work items are (query token, KV head): the query heads of a group share each K/V row read.
/// The SIMD kernels have neither window nor cap: queries past the window, and all queries under
/// a cap, run on the scalar loop.
void attention(const CpuOps& ops, const PagedKvLayer& kv, std::span<const AttnSeq> seqs,
               const float* q, int32_t num_heads, float scale, float* out, core::ThreadPool& pool,
               AttnScratch& scratch, int32_t window = 0, float softcap = 0.0f);

/// Floats of AttnGroupArgs::scratch that one attend call needs for num_q queries at a time.
size_t attend_scratch_floats(int32_t kv_len, int32_t head_dim, int32_t group, int32_t num_q = 1);
/// Queries (at most max_q) whose scores fit a few MiB of scratch at context kv_len.
int32_t attend_scratch_queries(int32_t kv_len, int32_t group, int32_t max_q);

}  // namespace sarathi::kernels
