// kernels/cpu/common.h: ISA-neutral pieces the SIMD kernels of every level share (plain C++,
// compiled with each folder's flags, so the loops vectorize for that level; the q8_0 KV
// loaders use AVX2 and F16C intrinsics, which every SIMD level has): views of packed
// activation rows, the activation packers of the interleaved layouts (kernels/packed.h) around
// each level's quantizer, and the outer loop of the attention kernels.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/cpu/intrin.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"

namespace sarathi::kernels::cpu {

/// One packed activation row: nb blocks of kBlock int8 quants, then nb f32 scales, then the
/// per-block extras (Tail: corrections or sums, as the weight type's layout says).
template <class Tail>
struct XRow {
  const int8_t* q;
  const float* d;
  const Tail* tail;
};

template <class Tail, int64_t kBlock>
inline XRow<Tail> x_row(const PackedGemmArgs& a, int64_t t, int64_t nb) {
  const uint8_t* r = a.x + static_cast<size_t>(t) * a.x_row_bytes;
  return {reinterpret_cast<const int8_t*>(r), reinterpret_cast<const float*>(r + nb * kBlock),
          reinterpret_cast<const Tail*>(r + nb * (kBlock + 4))};
}

/// q8_0 / q4_0 activations (kernels/packed.h): quants from the level's from_float_q8_0 (bit-equal
/// to ref), f32 scales, corr = -c * sum of each block's quants (c = 128 for q8_0, 8 for q4_0).
template <void (*kFromFloat)(const float*, void*, int64_t)>
void pack_x_q8(const float* src, void* dst, int64_t k, int32_t c) {
  const int64_t nb = k / core::kQK8_0;
  auto* out = static_cast<uint8_t*>(dst);
  auto* d = reinterpret_cast<float*>(out + nb * core::kQK8_0);
  auto* corr = reinterpret_cast<int32_t*>(out + nb * (core::kQK8_0 + 4));
  for (int64_t b = 0; b < nb; ++b) {
    core::BlockQ8_0 blk;
    kFromFloat(src + b * core::kQK8_0, &blk, core::kQK8_0);
    std::memcpy(out + b * core::kQK8_0, blk.qs, core::kQK8_0);
    d[b] = core::f16_to_f32(blk.d);
    int32_t sum = 0;
    for (int i = 0; i < core::kQK8_0; ++i) sum += blk.qs[i];
    corr[b] = -c * sum;
  }
  const size_t used = static_cast<size_t>(nb) * (core::kQK8_0 + 8);
  std::memset(out + used, 0, packed_x_bytes(k) - used);
}

/// q8_K activations for q4_K (int16 sums of each 32 quants) or q6_K (int32 -32 * sums of each
/// 16), quants from the level's from_float_q8_k.
/// bf16 activations for the interleaved bf16 layout: the level's from_float_bf16 (bit-equal to
/// ref), the rest of the row (k's padding to 32 elements and the row's own) zero.
template <void (*kFromFloat)(const float*, void*, int64_t)>
void pack_x_bf16(const float* src, void* dst, int64_t k) {
  kFromFloat(src, dst, k);
  const auto used = static_cast<size_t>(k) * 2;
  std::memset(static_cast<uint8_t*>(dst) + used, 0, packed_x_bytes(core::DType::kBF16, k) - used);
}

template <void (*kFromFloat)(const float*, void*, int64_t), core::DType kType>
void pack_x_q8_k(const float* src, void* dst, int64_t k) {
  const int64_t ns = k / core::kQK_K;
  auto* out = static_cast<uint8_t*>(dst);
  auto* d = reinterpret_cast<float*>(out + ns * core::kQK_K);
  uint8_t* tail = out + ns * (core::kQK_K + 4);
  for (int64_t s = 0; s < ns; ++s) {
    core::BlockQ8_K blk;
    kFromFloat(src + s * core::kQK_K, &blk, core::kQK_K);
    std::memcpy(out + s * core::kQK_K, blk.qs, core::kQK_K);
    d[s] = blk.d;
    if constexpr (kType == core::DType::kQ4_K) {
      auto* sums = reinterpret_cast<int16_t*>(tail) + s * 8;
      for (int i = 0; i < 8; ++i)
        sums[i] = static_cast<int16_t>(blk.bsums[2 * i] + blk.bsums[2 * i + 1]);
    } else {
      auto* corr = reinterpret_cast<int32_t*>(tail) + s * 16;
      for (int i = 0; i < 16; ++i) corr[i] = -32 * blk.bsums[i];
    }
  }
  const size_t tail_bytes = kType == core::DType::kQ4_K ? 16 : 64;
  const size_t used = static_cast<size_t>(ns) * (core::kQK_K + 4 + tail_bytes);
  std::memset(out + used, 0, packed_x_bytes(kType, k) - used);
}

/// Element offset of the region of the block holding position pos for the call's KV head:
/// block_size * head_dim elements, [head_dim, block_size] in K and [block_size, head_dim] in V
/// (kernels/ops.h).
inline size_t kv_region(const AttnGroupArgs& a, int32_t pos) {
  return kv_region_offset(a.block_table[pos / a.block_size], a.num_kv_heads, a.kv_head,
                          a.block_size, a.head_dim);
}

/// Element offset of V's row for position pos.
inline size_t v_row(const AttnGroupArgs& a, int32_t pos) {
  return kv_region(a, pos) +
         static_cast<size_t>(pos % a.block_size) * static_cast<size_t>(a.head_dim);
}

/// Calls fn(pos, i, run) for the runs of positions [p0, p0 + n) that lie in one block each:
/// position pos is the i-th of the range, and the run's rows (V) or columns (K) are contiguous.
template <class Fn>
inline void for_each_block_run(const AttnGroupArgs& a, int32_t p0, int64_t n, Fn&& fn) {
  int32_t pos = p0;
  for (int64_t i = 0; i < n;) {
    const int64_t in_block = a.block_size - pos % a.block_size;
    const int64_t run = in_block < n - i ? in_block : n - i;
    fn(pos, i, run);
    pos += static_cast<int32_t>(run);
    i += run;
  }
}

/// A q8_0 cache's region (K or V base) of the block holding position pos: quants, then scales
/// (kernels/ops.h).
inline const uint8_t* q8_region(const AttnGroupArgs& a, const void* base, int32_t pos) {
  const size_t region =
      static_cast<size_t>(a.block_table[pos / a.block_size]) * static_cast<size_t>(a.num_kv_heads) +
      static_cast<size_t>(a.kv_head);
  return static_cast<const uint8_t*>(base) + region * kv_q8_region_bytes(a.block_size, a.head_dim);
}

/// 8 int8 quants times a scale vector, as f32 (AVX2; every SIMD level has it).
inline __m256 dequant8(const int8_t* q, __m256 scale) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
  return _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)));
}

/// K of positions [p0, p0 + n) (n <= tile) of a q8_0 cache, dequantized (f16 scale x quant, one
/// f32 product each) into kt: [head_dim][tile] floats; lanes from n up to a multiple of `pad`
/// zero. Each 32 head dimensions of a position share a scale; quants of one dimension are
/// contiguous across a block's positions, so 8 positions convert as one vector.
inline void load_k_tile_q8(const AttnGroupArgs& a, int32_t p0, int64_t n, float* kt, int64_t tile,
                           int64_t pad) {
  const int64_t d = a.head_dim;
  const auto bs = static_cast<size_t>(a.block_size);
  for_each_block_run(a, p0, n, [&](int32_t pos, int64_t i, int64_t run) {
    const uint8_t* r = q8_region(a, a.k, pos);
    const auto slot = static_cast<size_t>(pos % a.block_size);
    const auto* quants = reinterpret_cast<const int8_t*>(r) + slot;
    const auto* scales = reinterpret_cast<const uint16_t*>(r + bs * static_cast<size_t>(d)) + slot;
    for (int64_t g = 0; g < d / core::kQK8_0; ++g) {
      const uint16_t* sg = scales + static_cast<size_t>(g) * bs;
      int64_t c = 0;
      for (; c + 8 <= run; c += 8) {
        const __m256 sv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sg + c)));
        for (int64_t j = g * core::kQK8_0; j < (g + 1) * core::kQK8_0; ++j)
          _mm256_storeu_ps(kt + j * tile + i + c,
                           dequant8(quants + static_cast<size_t>(j) * bs + static_cast<size_t>(c), sv));
      }
      for (; c < run; ++c) {
        const float sc = _cvtsh_ss(sg[c]);
        for (int64_t j = g * core::kQK8_0; j < (g + 1) * core::kQK8_0; ++j)
          kt[j * tile + i + c] = sc * static_cast<float>(quants[static_cast<size_t>(j) * bs +
                                                                static_cast<size_t>(c)]);
      }
    }
  });
  for (int64_t j = 0; j < d; ++j)
    for (int64_t c = n; c % pad != 0; ++c) kt[j * tile + c] = 0.0f;
}

/// V rows [p0, p0 + n) of a q8_0 cache, dequantized into dst (nc floats apart, zero-padded from
/// head_dim to nc).
inline void load_v_rows_q8(const AttnGroupArgs& a, int32_t p0, int64_t n, float* dst, int64_t nc) {
  const int64_t d = a.head_dim, ng = d / core::kQK8_0;
  const auto bs = static_cast<size_t>(a.block_size);
  for_each_block_run(a, p0, n, [&](int32_t pos, int64_t i, int64_t run) {
    const uint8_t* r = q8_region(a, a.v, pos);
    const auto slot = static_cast<size_t>(pos % a.block_size);
    for (int64_t k = 0; k < run; ++k) {
      const auto row = slot + static_cast<size_t>(k);
      const auto* quants = reinterpret_cast<const int8_t*>(r) + row * static_cast<size_t>(d);
      const auto* scales = reinterpret_cast<const uint16_t*>(r + bs * static_cast<size_t>(d)) +
                           row * static_cast<size_t>(ng);
      float* out = dst + (i + k) * nc;
      for (int64_t g = 0; g < ng; ++g) {
        const __m256 sv = _mm256_set1_ps(_cvtsh_ss(scales[g]));
        for (int64_t j = g * core::kQK8_0; j < (g + 1) * core::kQK8_0; j += 8)
          _mm256_storeu_ps(out + j, dequant8(quants + j, sv));
      }
      for (int64_t j = d; j < nc; ++j) out[j] = 0.0f;
    }
  });
}

/// Prefetches the cache regions (K or V) of the blocks holding positions [p0, p0 + n): a task's
/// blocks are scattered and strided by the other KV heads, which the hardware prefetchers follow
/// poorly.
inline void prefetch_regions(const AttnGroupArgs& a, const void* base, int32_t p0, int64_t n) {
  const size_t elem = a.f16 ? 2 : 4;
  const size_t bytes =
      a.q8 ? kv_q8_region_bytes(a.block_size, a.head_dim)
           : static_cast<size_t>(a.block_size) * static_cast<size_t>(a.head_dim) * elem;
  for (int32_t b = p0 / a.block_size; b * static_cast<int64_t>(a.block_size) < p0 + n; ++b) {
    const char* r = a.q8 ? reinterpret_cast<const char*>(q8_region(a, base, b * a.block_size))
                         : static_cast<const char*>(base) + kv_region(a, b * a.block_size) * elem;
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(r + o, 0, 3);
  }
}

/// Calls attend(part, nq) for consecutive parts of a's queries: AttnGroupArgs::scratch_queries
/// at a time (what the scratch holds scores for), each part seeing kv_len + its offset positions.
template <class Fn>
inline void attend_in_parts(const AttnGroupArgs& a, Fn&& attend) {
  const int32_t step = a.scratch_queries > 0 ? a.scratch_queries : 1;
  AttnGroupArgs part = a;
  for (int32_t i0 = 0; i0 < a.num_q; i0 += step) {
    const int32_t nq = a.num_q - i0 < step ? a.num_q - i0 : step;
    part.kv_len = a.kv_len + i0;
    part.num_q = nq;
    part.q = a.q + i0 * a.q_stride;
    part.out = a.out + i0 * a.q_stride;
    attend(part, nq);
  }
}

}  // namespace sarathi::kernels::cpu
