#include "kernels/ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "core/fp16.h"

namespace sarathi::kernels {

void rms_norm(const float* x, const float* w, float* y, int64_t num_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < num_rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

namespace {

// GGML's ggml_rope_yarn_corr_dim: the pair index whose wavelength fits n_ctx_orig n_rot times.
float yarn_corr_dim(int32_t n_dims, int32_t n_ctx_orig, float n_rot, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2.0f * static_cast<float>(M_PI))) /
         (2.0f * std::log(base));
}

}  // namespace

void rope(float* x, const int32_t* positions, int64_t num_tokens, int32_t num_heads,
          int32_t head_dim, const RopeParams& params) {
  const int32_t n_rot = params.n_rot;
  SARATHI_CHECK(n_rot > 0 && n_rot <= head_dim && n_rot % 2 == 0, "bad n_rot {}", n_rot);
  SARATHI_CHECK(params.freq_factors.empty() ||
                    static_cast<int32_t>(params.freq_factors.size()) == n_rot / 2,
                "{} rope freq factors for {} rotated dims", params.freq_factors.size(), n_rot);
  const float theta_scale = std::pow(params.freq_base, -2.0f / static_cast<float>(n_rot));
  // Angles per pair, computed by repeated multiplication as GGML's rope cache does.
  constexpr int kMaxPairs = 512;
  SARATHI_CHECK(n_rot / 2 <= kMaxPairs, "n_rot {} too large", n_rot);
  float cos_cache[kMaxPairs];
  float sin_cache[kMaxPairs];
  const bool yarn = params.ext_factor != 0.0f;
  float corr_lo = 0.0f, corr_hi = 0.0f;
  float mscale = params.attn_factor;
  if (yarn) {
    const int32_t orig = params.n_ctx_orig > 0 ? params.n_ctx_orig : 1;
    corr_lo = std::max(0.0f, std::floor(yarn_corr_dim(n_rot, orig, params.beta_fast,
                                                      params.freq_base)));
    corr_hi = std::min(static_cast<float>(n_rot - 1),
                       std::ceil(yarn_corr_dim(n_rot, orig, params.beta_slow, params.freq_base)));
    mscale *= 1.0f + 0.1f * std::log(1.0f / params.freq_scale);
  }
  const float* ff = params.freq_factors.empty() ? nullptr : params.freq_factors.data();
  for (int64_t t = 0; t < num_tokens; ++t) {
    float theta = static_cast<float>(positions[t]);
    for (int32_t i = 0; i < n_rot / 2; ++i) {
      const float extrap = ff != nullptr ? theta / ff[i] : theta;
      float angle = params.freq_scale * extrap;
      if (yarn) {
        const float y = (static_cast<float>(i) - corr_lo) / std::max(0.001f, corr_hi - corr_lo);
        const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * params.ext_factor;
        angle = angle * (1.0f - ramp) + extrap * ramp;
      }
      cos_cache[i] = std::cos(angle) * mscale;
      sin_cache[i] = std::sin(angle) * mscale;
      theta *= theta_scale;
    }
    for (int32_t h = 0; h < num_heads; ++h) {
      float* v = x + (t * num_heads + h) * head_dim;
      if (params.kind == RopeKind::kNorm) {
        for (int32_t i = 0; i < n_rot / 2; ++i) {
          const float x0 = v[2 * i];
          const float x1 = v[2 * i + 1];
          v[2 * i] = x0 * cos_cache[i] - x1 * sin_cache[i];
          v[2 * i + 1] = x0 * sin_cache[i] + x1 * cos_cache[i];
        }
      } else {
        const int32_t half = n_rot / 2;
        for (int32_t i = 0; i < half; ++i) {
          const float x0 = v[i];
          const float x1 = v[i + half];
          v[i] = x0 * cos_cache[i] - x1 * sin_cache[i];
          v[i + half] = x0 * sin_cache[i] + x1 * cos_cache[i];
        }
      }
    }
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoef = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    out[i] = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoef * x * x))) * up[i];
  }
}

void softcap(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void get_rows(const CpuOps& ops, core::DType dtype, const void* table, size_t row_bytes, int64_t n,
              const int32_t* ids, int64_t num_ids, float* out) {
  const TypeOps& t = ops.type(dtype);
  const auto* base = static_cast<const uint8_t*>(table);
  for (int64_t i = 0; i < num_ids; ++i)
    t.to_float(base + static_cast<size_t>(ids[i]) * row_bytes, out + i * n, n);
}

namespace {

// Element offset of (block of position pos, KV head)'s region: block_size * head_dim elements,
// stored as [block_size, head_dim] for V and [head_dim, block_size] for K (see ops.h).
inline size_t kv_region(const PagedKvLayer& kv, const int32_t* block_table, int32_t pos,
                        int32_t head) {
  const int32_t block = block_table[pos / kv.block_size];
  SARATHI_DCHECK(block >= 0 && block < kv.num_blocks, "block {} out of range", block);
  return kv_region_offset(block, kv.num_kv_heads, head, kv.block_size, kv.head_dim);
}

// V: the offset of (position, KV head)'s row. K: of its element 0; element j is j * block_size
// further.
inline size_t v_offset(const PagedKvLayer& kv, const int32_t* block_table, int32_t pos,
                       int32_t head) {
  return kv_region(kv, block_table, pos, head) +
         static_cast<size_t>(pos % kv.block_size) * static_cast<size_t>(kv.head_dim);
}
inline size_t k_offset(const PagedKvLayer& kv, const int32_t* block_table, int32_t pos,
                       int32_t head) {
  return kv_region(kv, block_table, pos, head) + static_cast<size_t>(pos % kv.block_size);
}

inline float round_f16(float x) { return core::f16_to_f32(core::f32_to_f16(x)); }

// q8_0 cache: the (block of position pos, KV head) region's bytes (kernels/ops.h).
inline uint8_t* q8_region(const PagedKvLayer& kv, void* base, const int32_t* block_table,
                          int32_t pos, int32_t head) {
  const int32_t block = block_table[pos / kv.block_size];
  SARATHI_DCHECK(block >= 0 && block < kv.num_blocks, "block {} out of range", block);
  const size_t region = static_cast<size_t>(block) * static_cast<size_t>(kv.num_kv_heads) +
                        static_cast<size_t>(head);
  return static_cast<uint8_t*>(base) + region * kv_q8_region_bytes(kv.block_size, kv.head_dim);
}

// Quantizes one position's K and V rows (head_dim each) into a q8_0 cache: per 32 elements an
// f16 scale and int8 quants (the op table's from_float_q8_0, bit-equal to GGML's reference).
void kv_store_q8(const CpuOps& ops, const PagedKvLayer& kv, const int32_t* block_table,
                 int32_t pos, int32_t head, const float* kr, const float* vr) {
  constexpr int64_t kMaxGroups = 64;  // head_dim <= 2048
  const int64_t d = kv.head_dim, ng = d / core::kQK8_0;
  SARATHI_CHECK(d % core::kQK8_0 == 0 && ng <= kMaxGroups, "q8_0 KV with head_dim {}", d);
  const auto bs = static_cast<size_t>(kv.block_size);
  const auto slot = static_cast<size_t>(pos % kv.block_size);
  core::BlockQ8_0 q[kMaxGroups];
  ops.q8_0.from_float(kr, q, d);
  uint8_t* k = q8_region(kv, kv.k, block_table, pos, head);
  auto* k_scales = reinterpret_cast<uint16_t*>(k + bs * static_cast<size_t>(d));
  for (int64_t g = 0; g < ng; ++g) {
    k_scales[static_cast<size_t>(g) * bs + slot] = q[g].d;
    for (int64_t j = 0; j < core::kQK8_0; ++j)
      reinterpret_cast<int8_t*>(k)[static_cast<size_t>(g * core::kQK8_0 + j) * bs + slot] =
          q[g].qs[j];
  }
  ops.q8_0.from_float(vr, q, d);
  uint8_t* v = q8_region(kv, kv.v, block_table, pos, head);
  auto* v_scales = reinterpret_cast<uint16_t*>(v + bs * static_cast<size_t>(d));
  for (int64_t g = 0; g < ng; ++g) {
    v_scales[slot * static_cast<size_t>(ng) + static_cast<size_t>(g)] = q[g].d;
    std::memcpy(v + slot * static_cast<size_t>(d) + static_cast<size_t>(g * core::kQK8_0),
                q[g].qs, core::kQK8_0);
  }
}
}  // namespace

void kv_store(const PagedKvLayer& kv, const int32_t* block_table, int32_t first_pos, int32_t num,
              const float* k, const float* v) {
  kv_store(cpu_ops(), kv, block_table, first_pos, num, k, v);
}

void kv_store(const CpuOps& ops, const PagedKvLayer& kv, const int32_t* block_table,
              int32_t first_pos, int32_t num, const float* k, const float* v) {
  const FromFloatFn to_f16 = ops.f16.from_float;
  const int64_t d = kv.head_dim;
  const int64_t width = static_cast<int64_t>(kv.num_kv_heads) * d;
  const auto bs = static_cast<size_t>(kv.block_size);
  for (int32_t i = 0; i < num; ++i) {
    for (int32_t h = 0; h < kv.num_kv_heads; ++h) {
      const size_t koff = k_offset(kv, block_table, first_pos + i, h);
      const size_t voff = v_offset(kv, block_table, first_pos + i, h);
      const float* kr = k + i * width + h * d;
      const float* vr = v + i * width + h * d;
      if (kv.dtype == core::DType::kQ8_0) {
        kv_store_q8(ops, kv, block_table, first_pos + i, h, kr, vr);
      } else if (kv.dtype == core::DType::kF16) {
        auto* kd = static_cast<uint16_t*>(kv.k) + koff;
        to_f16(vr, static_cast<uint16_t*>(kv.v) + voff, d);
        // K's row goes to a column of its block: converted in pieces, then scattered.
        constexpr int64_t kPiece = 64;
        uint16_t tmp[kPiece];
        for (int64_t j0 = 0; j0 < d; j0 += kPiece) {
          const int64_t len = std::min(kPiece, d - j0);
          to_f16(kr + j0, tmp, len);
          for (int64_t j = 0; j < len; ++j) kd[static_cast<size_t>(j0 + j) * bs] = tmp[j];
        }
      } else {
        auto* kd = static_cast<float*>(kv.k) + koff;
        for (int64_t j = 0; j < d; ++j) kd[static_cast<size_t>(j) * bs] = kr[j];
        std::copy(vr, vr + d, static_cast<float*>(kv.v) + voff);
      }
    }
  }
}

namespace {

// scores[p] = exp(scores[p] - max_score) over n positions; returns 1 / their sum (summed in
// double), the softmax's normalizer.
float exp_scores(float* scores, int32_t n, float max_score) {
  double sum = 0.0;
  for (int32_t p = 0; p < n; ++p) {
    const float e = std::exp(scores[p] - max_score);
    scores[p] = e;
    sum += e;
  }
  return static_cast<float>(1.0 / sum);
}

// One (query token, head) of attention: scores over positions [kv_start, kv_len) (soft-capped
// to softcap * tanh(s / softcap) when softcap > 0), softmax, weighted V sum.
template <typename KvT>
void attend_one(const PagedKvLayer& kv, const int32_t* block_table, int32_t kv_start,
                int32_t kv_len, int32_t kv_head, const float* q_in, float scale, float softcap,
                float* scores, float* qbuf, float* out) {
  const int32_t d = kv.head_dim;
  constexpr bool kF16 = std::is_same_v<KvT, uint16_t>;
  for (int32_t j = 0; j < d; ++j) qbuf[j] = kF16 ? round_f16(q_in[j]) : q_in[j];
  const auto* kbase = static_cast<const KvT*>(kv.k);
  const auto* vbase = static_cast<const KvT*>(kv.v);
  const auto bs = static_cast<size_t>(kv.block_size);  // K: row element j is j * bs further
  float max_score = -std::numeric_limits<float>::infinity();
  for (int32_t p = kv_start; p < kv_len; ++p) {
    const KvT* kr = kbase + k_offset(kv, block_table, p, kv_head);
    float s = 0.0f;
    for (int32_t j = 0; j < d; ++j) {
      if constexpr (kF16) {
        s += qbuf[j] * core::f16_to_f32(kr[static_cast<size_t>(j) * bs]);
      } else {
        s += qbuf[j] * kr[static_cast<size_t>(j) * bs];
      }
    }
    s *= scale;
    if (softcap > 0.0f) s = softcap * std::tanh(s / softcap);
    scores[p - kv_start] = s;
    max_score = std::max(max_score, s);
  }
  const float inv = exp_scores(scores, kv_len - kv_start, max_score);
  for (int32_t j = 0; j < d; ++j) out[j] = 0.0f;
  for (int32_t p = kv_start; p < kv_len; ++p) {
    float w = scores[p - kv_start] * inv;
    const KvT* vr = vbase + v_offset(kv, block_table, p, kv_head);
    if constexpr (kF16) {
      w = round_f16(w);
      for (int32_t j = 0; j < d; ++j) out[j] += w * core::f16_to_f32(vr[j]);
    } else {
      for (int32_t j = 0; j < d; ++j) out[j] += w * vr[j];
    }
  }
}

// attend_one over a q8_0 cache: each element dequantized (scale * quant) as it is read; no f16
// rounding of Q or P.
void attend_one_q8(const PagedKvLayer& kv, const int32_t* block_table, int32_t kv_start,
                   int32_t kv_len, int32_t kv_head, const float* q, float scale, float softcap,
                   float* scores, float* out) {
  const int32_t d = kv.head_dim;
  const auto bs = static_cast<size_t>(kv.block_size);
  const auto ng = static_cast<size_t>(d / core::kQK8_0);
  float max_score = -std::numeric_limits<float>::infinity();
  for (int32_t p = kv_start; p < kv_len; ++p) {
    const uint8_t* k = q8_region(kv, kv.k, block_table, p, kv_head);
    const auto* quants = reinterpret_cast<const int8_t*>(k);
    const auto* scales = reinterpret_cast<const uint16_t*>(k + bs * static_cast<size_t>(d));
    const auto slot = static_cast<size_t>(p % kv.block_size);
    float s = 0.0f;
    for (int32_t j = 0; j < d; ++j) {
      const float kj = core::f16_to_f32(scales[static_cast<size_t>(j / core::kQK8_0) * bs + slot]) *
                       static_cast<float>(quants[static_cast<size_t>(j) * bs + slot]);
      s += q[j] * kj;
    }
    s *= scale;
    if (softcap > 0.0f) s = softcap * std::tanh(s / softcap);
    scores[p - kv_start] = s;
    max_score = std::max(max_score, s);
  }
  const float inv = exp_scores(scores, kv_len - kv_start, max_score);
  for (int32_t j = 0; j < d; ++j) out[j] = 0.0f;
  for (int32_t p = kv_start; p < kv_len; ++p) {
    const float w = scores[p - kv_start] * inv;
    const uint8_t* v = q8_region(kv, kv.v, block_table, p, kv_head);
    const auto slot = static_cast<size_t>(p % kv.block_size);
    const auto* quants = reinterpret_cast<const int8_t*>(v) + slot * static_cast<size_t>(d);
    const auto* scales =
        reinterpret_cast<const uint16_t*>(v + bs * static_cast<size_t>(d)) + slot * ng;
    for (int32_t j = 0; j < d; ++j)
      out[j] += w * (core::f16_to_f32(scales[static_cast<size_t>(j / core::kQK8_0)]) *
                     static_cast<float>(quants[j]));
  }
}

}  // namespace

size_t attend_scratch_floats(int32_t kv_len, int32_t head_dim, int32_t group, int32_t num_q) {
  const auto len16 = static_cast<size_t>((kv_len + 15) / 16 * 16);
  const auto nc16 = static_cast<size_t>((head_dim + 15) / 16 * 16);
  const auto g = static_cast<size_t>(group) * static_cast<size_t>(num_q);
  // One 64-row K or V tile; scores, rounded queries and 16 running maxima per (query, head)
  // (the AVX-512 kernel; the scalar loop needs less).
  return 64 * nc16 + g * len16 + g * nc16 + 16 * g;
}

int32_t attend_scratch_queries(int32_t kv_len, int32_t group, int32_t max_q) {
  constexpr size_t kScoreBytes = size_t{4} << 20;
  const size_t per_query =
      static_cast<size_t>(group) * static_cast<size_t>((kv_len + 15) / 16 * 16) * 4;
  const auto fit =
      static_cast<int32_t>(std::min<size_t>(kScoreBytes / std::max<size_t>(per_query, 1), 1 << 20));
  return std::clamp(fit, 1, std::max(max_q, 1));
}

void attention(const PagedKvLayer& kv, std::span<const AttnSeq> seqs, const float* q,
               int32_t num_heads, float scale, float* out, core::ThreadPool& pool,
               AttnScratch& scratch, int32_t window, float softcap) {
  attention(cpu_ops(), kv, seqs, q, num_heads, scale, out, pool, scratch, window, softcap);
}

void attention(const CpuOps& ops, const PagedKvLayer& kv, std::span<const AttnSeq> seqs,
               const float* q, int32_t num_heads, float scale, float* out, core::ThreadPool& pool,
               AttnScratch& scratch, int32_t window, float softcap) {
  SARATHI_CHECK(window >= 0, "sliding window {} is negative", window);
  SARATHI_CHECK(softcap >= 0.0f, "soft cap {} is negative", softcap);
  SARATHI_CHECK(num_heads % kv.num_kv_heads == 0, "heads {} not a multiple of kv heads {}",
                num_heads, kv.num_kv_heads);
  const int32_t group = num_heads / kv.num_kv_heads;
  const int32_t d = kv.head_dim;
  // Work items: (sequence, block of up to kQueryBlock query rows, KV head).
  constexpr int32_t kQueryBlock = 16;
  int32_t max_len = 0;
  int32_t max_q = 1;
  for (const AttnSeq& s : seqs) {
    max_len = std::max(max_len, s.first_pos + s.num_q);
    max_q = std::max(max_q, std::min(s.num_q, kQueryBlock));
  }
  const int32_t scratch_queries = attend_scratch_queries(max_len, group, max_q);
  // Per thread: the SIMD kernel's scratch, or the scalar loop's scores and rounded query; 16
  // floats of slack keep each thread's part 64-byte aligned.
  const size_t per_thread = (std::max(attend_scratch_floats(max_len, d, group, scratch_queries),
                                      static_cast<size_t>(max_len) + static_cast<size_t>(d)) +
                             15) /
                            16 * 16;
  const size_t need = per_thread * static_cast<size_t>(pool.num_threads()) + 16;
  if (scratch.buf.size() < need) scratch.buf.resize(need);
  float* aligned = scratch.buf.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;

  // Tasks, costliest first (query rows x positions they see), taken one at a time by whichever
  // thread is free: a chunk's later query blocks see more positions, and contiguous ranges of
  // them left one of two threads with three quarters of a prefill's attention. Each task writes
  // its own rows, so the result does not depend on which thread runs it.
  scratch.tasks.clear();
  for (size_t si = 0; si < seqs.size(); ++si) {
    const AttnSeq& s = seqs[si];
    for (int32_t local0 = 0; local0 < s.num_q; local0 += kQueryBlock) {
      const int64_t rows = std::min(kQueryBlock, s.num_q - local0);
      const int64_t cost = rows * (s.first_pos + local0 + rows);
      for (int32_t kvh = 0; kvh < kv.num_kv_heads; ++kvh)
        scratch.tasks.push_back({cost, static_cast<int32_t>(si), local0, kvh});
    }
  }
  std::sort(scratch.tasks.begin(), scratch.tasks.end(),
            [](const AttnScratch::Task& x, const AttnScratch::Task& y) {
              if (x.cost != y.cost) return x.cost > y.cost;
              if (x.seq != y.seq) return x.seq < y.seq;
              return x.local0 != y.local0 ? x.local0 < y.local0 : x.kv_head < y.kv_head;
            });
  std::atomic<size_t> next{0};
  pool.run_on_all([&](int thread_idx, int) {
    float* buf = aligned + per_thread * static_cast<size_t>(thread_idx);
    for (size_t ti = next.fetch_add(1, std::memory_order_relaxed); ti < scratch.tasks.size();
         ti = next.fetch_add(1, std::memory_order_relaxed)) {
      const AttnScratch::Task& task = scratch.tasks[ti];
      const AttnSeq& s = seqs[static_cast<size_t>(task.seq)];
      const int32_t local0 = task.local0;
      const int32_t kvh = task.kv_head;
      const int32_t num_q = std::min(kQueryBlock, s.num_q - local0);
      const int64_t row0 = s.q_begin + local0;
      const int64_t head0 = row0 * num_heads + static_cast<int64_t>(kvh) * group;
      // ops.attend sees every position up to the query's and has no soft cap: queries a window
      // hides positions from, and every query under a soft cap, take ops.attend_masked, or the
      // scalar loop without it. The choice depends on the query's own position only, never on
      // the rest of its task, so a token gets the same bits whichever batch it is in.
      int32_t n_simd = ops.attend != nullptr && softcap == 0.0f ? num_q : 0;
      if (window > 0) n_simd = std::clamp(window - (s.first_pos + local0), 0, n_simd);
      AttnGroupArgs a;
      a.k = kv.k;
      a.v = kv.v;
      a.f16 = kv.dtype == core::DType::kF16;
      a.q8 = kv.dtype == core::DType::kQ8_0;
      a.block_size = kv.block_size;
      a.num_kv_heads = kv.num_kv_heads;
      a.head_dim = d;
      a.block_table = s.block_table;
      a.kv_head = kvh;
      a.group = group;
      a.scale = scale;
      a.q_stride = static_cast<int64_t>(num_heads) * d;
      a.scratch = buf;
      a.scratch_queries = scratch_queries;
      auto run_queries = [&](AttendFn fn, int32_t i0, int32_t n) {
        a.kv_len = s.first_pos + local0 + i0 + 1;
        a.num_q = n;
        a.q = q + (head0 + static_cast<int64_t>(i0) * num_heads) * d;
        a.out = out + (head0 + static_cast<int64_t>(i0) * num_heads) * d;
        fn(a);
      };
      if (n_simd > 0) run_queries(ops.attend, 0, n_simd);
      int32_t scalar_from = n_simd;
      if (n_simd < num_q && ops.attend_masked != nullptr) {
        a.window = window;
        a.softcap = softcap;
        run_queries(ops.attend_masked, n_simd, num_q - n_simd);
        scalar_from = num_q;
      }
      for (int32_t i = scalar_from; i < num_q; ++i) {
        const int32_t kv_len = s.first_pos + local0 + i + 1;
        const int32_t kv_start = window > 0 ? std::max(0, kv_len - window) : 0;
        for (int32_t g = 0; g < group; ++g) {
          const int64_t hd = (head0 + static_cast<int64_t>(i) * num_heads + g) * d;
          if (kv.dtype == core::DType::kQ8_0) {
            attend_one_q8(kv, s.block_table, kv_start, kv_len, kvh, q + hd, scale, softcap, buf,
                          out + hd);
          } else if (kv.dtype == core::DType::kF16) {
            attend_one<uint16_t>(kv, s.block_table, kv_start, kv_len, kvh, q + hd, scale, softcap,
                                 buf, buf + max_len, out + hd);
          } else {
            attend_one<float>(kv, s.block_table, kv_start, kv_len, kvh, q + hd, scale, softcap,
                              buf, buf + max_len, out + hd);
          }
        }
      }
    }
  });
}

}  // namespace sarathi::kernels
