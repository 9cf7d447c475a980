// AVX-512 batched matmul: tiles of kTileRows weight rows x kTileToks tokens keep every loaded
// weight vector in a register while it meets several tokens. Each (row, token) output has its
// own accumulator that sees the same operations in the same order whatever the tile shape (a
// full tile, a row or token tail, M = 1), then one fixed horizontal sum: batch invariance.

#include "kernels/cpu/avx512/gemm.h"

#include <cstring>
#include <type_traits>

#include "core/dtype.h"
#include "kernels/cpu/avx512/type_ops.h"
#include "kernels/cpu/intrin.h"

namespace sarathi::kernels::avx512 {
namespace {

using core::BlockQ4_0;
using core::BlockQ6_K;
using core::BlockQ8_0;
using core::BlockQ8_K;
using core::kQK8_0;
using core::kQK_K;

constexpr int kTileRows = 4;
constexpr int kTileToks = 4;
constexpr int64_t kStreamRowsMaxTokens = 4;

template <bool B>
using Full = std::integral_constant<bool, B>;

__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
__m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// ---------------------------------------------------------------- q8 activations
//
// Packed row: per pair of 32-blocks, kPairBytes = int8 qs[64] | f32 d[16] (block 0's scale in
// lanes 0..7, block 1's in 8..15) | int32 corr[16]. An odd last block leaves the second half
// zero. The weight quants enter vpdpbusd as unsigned u = w + c (c = 128 for q8_0, 8 for q4_0),
// so sum(w * x) = sum(u * x) - c * sum(x); corr holds -c * sum(x) per 4-byte group and seeds
// the integer accumulator.
constexpr size_t kPairBytes = 192;

int64_t num_pairs(int64_t k) { return (k / kQK8_0 + 1) / 2; }

template <int kOffset>
void pack_q8(const float* src, void* dst, int64_t k) {
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t nb = k / kQK8_0;
  for (int64_t p = 0; p < num_pairs(k); ++p) {
    alignas(64) int8_t qs[64] = {};
    alignas(64) float d[16] = {};
    for (int64_t h = 0; h < 2 && 2 * p + h < nb; ++h) {
      BlockQ8_0 blk;
      from_float_q8_0(src + (2 * p + h) * kQK8_0, &blk, kQK8_0);
      std::memcpy(qs + 32 * h, blk.qs, 32);
      const float scale = _cvtsh_ss(blk.d);
      for (int j = 0; j < 8; ++j) d[8 * h + j] = scale;
    }
    const __m512i q = _mm512_load_si512(qs);
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                            _mm512_set1_epi8(static_cast<char>(kOffset)), q);
    uint8_t* pair = out + static_cast<size_t>(p) * kPairBytes;
    _mm512_storeu_si512(pair, q);
    _mm512_storeu_ps(pair + 64, _mm512_load_ps(d));
    _mm512_storeu_si512(pair + 128, _mm512_sub_epi32(_mm512_setzero_si512(), sum));
  }
}

struct Q8Vec {
  __m512i q;  // unsigned quants of two blocks
  __m512 d;   // their scales, 8 lanes each
};

// f16 scales of two blocks -> a in lanes 0..7, b in lanes 8..15 (broadcast, then one convert).
SARATHI_INLINE __m512 two_scales(uint16_t a, uint16_t b) {
  const __m128i va = _mm_set1_epi16(static_cast<short>(a));
  const __m128i vb = _mm_set1_epi16(static_cast<short>(b));
  return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(va), vb, 1));
}
SARATHI_INLINE __m512 low_scale(uint16_t a) {
  return _mm512_cvtph_ps(_mm256_zextsi128_si256(_mm_set1_epi16(static_cast<short>(a))));
}

// Shared by q8_0 and q4_0 weights: the per-step work on one pair of blocks.
struct Q8Common {
  using W = Q8Vec;
  struct X {
    __m512i q;
    __m512 d;
    __m512i corr;
  };
  static int64_t num_full_steps(int64_t k) { return k / kQK8_0 / 2; }
  static bool has_tail(int64_t k) { return (k / kQK8_0) % 2 != 0; }
  SARATHI_INLINE static X load_x(const uint8_t* row, int64_t s) {
    const uint8_t* p = row + static_cast<size_t>(s) * kPairBytes;
    return {load512(p), _mm512_loadu_ps(p + 64), load512(p + 128)};
  }
  SARATHI_INLINE static void madd(__m512& acc, const W& w, const X& x) {
    const __m512i dot = _mm512_dpbusd_epi32(x.corr, w.q, x.q);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(w.d, x.d), acc);
  }
};

struct Q8_0Traits : Q8Common {
  template <bool kFull>
  SARATHI_INLINE static W load_w(const uint8_t* row, int64_t s, int64_t, Full<kFull>) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(row) + 2 * s;
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i q0 = _mm256_xor_si256(load256(b[0].qs), flip);
    if constexpr (kFull) {
      const __m256i q1 = _mm256_xor_si256(load256(b[1].qs), flip);
      return {_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), two_scales(b[0].d, b[1].d)};
    } else {
      return {_mm512_inserti64x4(_mm512_setzero_si512(), q0, 0), low_scale(b[0].d)};
    }
  }
};

// The 32 quants of a Q4_0 block (low nibbles = elements 0..15, high = 16..31), unsigned 0..15.
__m256i q4_0_nibbles(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0f));
}

struct Q4_0Traits : Q8Common {
  template <bool kFull>
  SARATHI_INLINE static W load_w(const uint8_t* row, int64_t s, int64_t, Full<kFull>) {
    const auto* b = reinterpret_cast<const BlockQ4_0*>(row) + 2 * s;
    const __m256i q0 = q4_0_nibbles(b[0].qs);
    if constexpr (kFull) {
      return {_mm512_inserti64x4(_mm512_castsi256_si512(q0), q4_0_nibbles(b[1].qs), 1),
              two_scales(b[0].d, b[1].d)};
    } else {
      return {_mm512_inserti64x4(_mm512_setzero_si512(), q0, 0), low_scale(b[0].d)};
    }
  }
};

// ---------------------------------------------------------------- K-quant weights
//
// q8_K activations for q6_K weights, packed per 64-element step (kPairBytes): int8 qs[64] |
// f32 d[16] (the super-block's scale in every lane) | int32 corr[16] = -32 * sum(x) per 4-byte
// group (the weights enter as q + 32, as q4_0's do with 8). (A q4_K path built the same way,
// with its mins as a second FMA per step, lost to the int16-domain vec_dot at M = 1 and only
// matched it at M = 256, so q4_K keeps vec_dot.)
void pack_q8_k_for_q6_k(const float* src, void* dst, int64_t k) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t sb = 0; sb < k / kQK_K; ++sb) {
    BlockQ8_K blk;
    from_float_q8_k(src + sb * kQK_K, &blk, kQK_K);
    for (int64_t j = 0; j < kQK_K / 64; ++j) {
      uint8_t* step = out + static_cast<size_t>(sb * (kQK_K / 64) + j) * kPairBytes;
      const __m512i q = load512(blk.qs + 64 * j);
      const __m512 d = _mm512_set1_ps(blk.d);
      const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), q);
      _mm512_storeu_si512(step, q);
      _mm512_storeu_ps(step + 64, d);
      _mm512_storeu_si512(step + 128, _mm512_mullo_epi32(sum, _mm512_set1_epi32(-32)));
    }
  }
}

// Q6_K: the 64 quants of step t of a super-block (elements 64t..64t+63), unsigned 0..63
// (value + 32), and the four 16-element group scales times d, 4 lanes each.
struct Q6KTraits : Q8Common {
  struct W6 {
    __m512i q;
    __m512 d;
  };
  using W = W6;
  static int64_t num_full_steps(int64_t k) { return k / 64; }
  static bool has_tail(int64_t) { return false; }
  template <bool kFull>
  SARATHI_INLINE static W load_w(const uint8_t* row, int64_t s, int64_t, Full<kFull>) {
    const auto* b = reinterpret_cast<const BlockQ6_K*>(row) + s / 4;
    const int t = static_cast<int>(s % 4);
    const int half = t / 2;
    const int shift = 4 * (t % 2);  // low or high nibbles of ql
    const __m256i lo4 = _mm256_set1_epi8(0x0f);
    const __m256i three = _mm256_set1_epi8(3);
    const __m256i a = load256(b->ql + 64 * half);
    const __m256i c = load256(b->ql + 64 * half + 32);
    const __m256i h = load256(b->qh + 32 * half);
    const __m128i sh_ql = _mm_cvtsi32_si128(shift);
    // High bits: the first 32 elements take qh bits hb..hb+1, the second 32 bits hb+2..hb+3.
    const int hb = 4 * (t % 2);
    const __m256i q0 = _mm256_or_si256(
        _mm256_and_si256(_mm256_srl_epi16(a, sh_ql), lo4),
        _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(hb)), three), 4));
    const __m256i q1 = _mm256_or_si256(
        _mm256_and_si256(_mm256_srl_epi16(c, sh_ql), lo4),
        _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(hb + 2)), three),
                          4));
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
    int32_t sc4 = 0;
    std::memcpy(&sc4, b->scales + 4 * t, sizeof(sc4));
    const __m128i sc8 = _mm_cvtsi32_si128(sc4);
    const __m512i sc32 =
        _mm512_permutexvar_epi32(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                 _mm512_castsi128_si512(_mm_cvtepi8_epi32(sc8)));
    return {q, _mm512_mul_ps(_mm512_cvtepi32_ps(sc32), _mm512_set1_ps(_cvtsh_ss(b->d)))};
  }
  SARATHI_INLINE static void madd(__m512& acc, const W& w, const X& x) {
    const __m512i dot = _mm512_dpbusd_epi32(x.corr, w.q, x.q);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(w.d, x.d), acc);
  }
};

// ---------------------------------------------------------------- float activations

__mmask16 mask16(int64_t count) { return static_cast<__mmask16>((1u << count) - 1u); }
__mmask32 mask32(int64_t count) { return static_cast<__mmask32>((uint64_t{1} << count) - 1u); }

int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

struct FloatCommon {
  using W = __m512;
  using X = __m512;
  static int64_t num_full_steps(int64_t k) { return k / 16; }
  static bool has_tail(int64_t k) { return k % 16 != 0; }
  SARATHI_INLINE static X load_x(const uint8_t* row, int64_t s) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + 16 * s);
  }
  SARATHI_INLINE static void madd(__m512& acc, W w, X x) { acc = _mm512_fmadd_ps(w, x, acc); }
};

struct F32Traits : FloatCommon {
  template <bool kFull>
  SARATHI_INLINE static W load_w(const uint8_t* row, int64_t s, int64_t k, Full<kFull>) {
    const float* p = reinterpret_cast<const float*>(row) + 16 * s;
    if constexpr (kFull) return _mm512_loadu_ps(p);
    return _mm512_maskz_loadu_ps(mask16(k % 16), p);
  }
};

struct F16Traits : FloatCommon {
  // Activations stay f16 (half the bytes of f32, so a 5632-wide row fits L1 beside the weight
  // stream) and widen on load: the same f32 values as the f16-rounded f32 rows.
  SARATHI_INLINE static X load_x(const uint8_t* row, int64_t s) {
    return _mm512_cvtph_ps(load256(row + 32 * s));
  }
  template <bool kFull>
  SARATHI_INLINE static W load_w(const uint8_t* row, int64_t s, int64_t k, Full<kFull>) {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + 16 * s;
    if constexpr (kFull) return _mm512_cvtph_ps(load256(p));
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask16(k % 16), p));
  }
};

struct Bf16Traits {
  using W = __m512i;
  using X = __m512i;
  static int64_t num_full_steps(int64_t k) { return k / 32; }
  static bool has_tail(int64_t k) { return k % 32 != 0; }
  SARATHI_INLINE static X load_x(const uint8_t* row, int64_t s) { return load512(row + 64 * s); }
  template <bool kFull>
  SARATHI_INLINE static W load_w(const uint8_t* row, int64_t s, int64_t k, Full<kFull>) {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + 32 * s;
    if constexpr (kFull) return load512(p);
    return _mm512_maskz_loadu_epi16(mask32(k % 32), p);
  }
  SARATHI_INLINE static void madd(__m512& acc, W w, X x) {
    acc = _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x);
  }
};

// ---------------------------------------------------------------- the tiles

// The loops over R and C are fully unrolled and everything inlined (SARATHI_INLINE), so the
// R x C accumulators live in registers (GCC keeps an array in memory otherwise).
template <class T, int R, int C, bool kFull>
SARATHI_INLINE void step(const uint8_t* const (&wrow)[R], const uint8_t* const (&xrow)[C],
                         int64_t k, int64_t s, __m512 (&acc)[R][C]) {
  typename T::W w[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) w[r] = T::load_w(wrow[r], s, k, Full<kFull>{});
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    const typename T::X x = T::load_x(xrow[c], s);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) T::madd(acc[r][c], w[r], x);
  }
}

template <class T, int R, int C>
void tile(const GemmArgs& a, int64_t r0, int64_t t0) {
  __m512 acc[R][C];
  const uint8_t* wrow[R];
  const uint8_t* xrow[C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    wrow[r] = a.w + static_cast<size_t>(r0 + r) * a.w_row_bytes;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) xrow[c] = a.x + static_cast<size_t>(t0 + c) * a.x_row_bytes;
  const int64_t n = T::num_full_steps(a.k);
  for (int64_t s = 0; s < n; ++s) step<T, R, C, true>(wrow, xrow, a.k, s, acc);
  if (T::has_tail(a.k)) step<T, R, C, false>(wrow, xrow, a.k, n, acc);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) a.y[(t0 + c) * a.ldy + r0 + r] = _mm512_reduce_add_ps(acc[r][c]);
}

// The token tail: a tile of exactly `rem` (< kTileToks) tokens.
template <class T, int R, int C>
void tail_tile(const GemmArgs& a, int64_t r0, int64_t t, int64_t rem) {
  if constexpr (C > 0) {
    if (rem == C) {
      tile<T, R, C>(a, r0, t);
      return;
    }
    tail_tile<T, R, C - 1>(a, r0, t, rem);
  }
}

template <class T, int R>
void row_tile(const GemmArgs& a, int64_t r0) {
  int64_t t = a.tok_begin;
  for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<T, R, kTileToks>(a, r0, t);
  tail_tile<T, R, kTileToks - 1>(a, r0, t, a.tok_end - t);
}

template <class T>
void run(const GemmArgs& a) {
  int64_t r = a.row_begin;
  // Few tokens: memory-bound, so stream the weight rows one after the other. One sequential
  // stream prefetches far better than interleaved ones: on Zen 4, 2-row tiles read q8_0
  // weights from DRAM at a third of the rate of 1-row tiles, 4-row tiles at half.
  if (a.tok_end - a.tok_begin > kStreamRowsMaxTokens) {
    for (; r + kTileRows <= a.row_end; r += kTileRows) row_tile<T, kTileRows>(a, r);
  }
  for (; r < a.row_end; ++r) row_tile<T, 1>(a, r);
}

}  // namespace

size_t packed_x_bytes_q8(int64_t k) { return static_cast<size_t>(num_pairs(k)) * kPairBytes; }
void pack_x_q8_for_q8_0(const float* src, void* dst, int64_t k) { pack_q8<128>(src, dst, k); }
void pack_x_q8_for_q4_0(const float* src, void* dst, int64_t k) { pack_q8<8>(src, dst, k); }
void gemm_q8_0(const GemmArgs& args) { run<Q8_0Traits>(args); }
void gemm_q4_0(const GemmArgs& args) { run<Q4_0Traits>(args); }

size_t packed_x_bytes_q8_k(int64_t k) { return static_cast<size_t>(k / 64) * kPairBytes; }
void pack_x_q8_k_for_q6_k(const float* src, void* dst, int64_t k) {
  pack_q8_k_for_q6_k(src, dst, k);
}
void gemm_q6_k(const GemmArgs& args) { run<Q6KTraits>(args); }

size_t packed_x_bytes_f32(int64_t k) { return static_cast<size_t>(round_up(k, 16)) * 4; }

void pack_x_f32(const float* src, void* dst, int64_t k) {
  auto* out = static_cast<float*>(dst);
  std::memcpy(out, src, static_cast<size_t>(k) * sizeof(float));
  for (int64_t i = k; i < round_up(k, 16); ++i) out[i] = 0.0f;
}

size_t packed_x_bytes_f16(int64_t k) { return static_cast<size_t>(round_up(k, 16)) * 2; }

void pack_x_f16(const float* src, void* dst, int64_t k) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < round_up(k, 16); i += 16) {
    const __mmask16 m = k - i >= 16 ? __mmask16(0xffff) : mask16(k - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, src + i);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2 * i),
                        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
}

void gemm_f32(const GemmArgs& args) { run<F32Traits>(args); }
void gemm_f16(const GemmArgs& args) { run<F16Traits>(args); }

size_t packed_x_bytes_bf16(int64_t k) { return static_cast<size_t>(round_up(k, 32)) * 2; }

void pack_x_bf16(const float* src, void* dst, int64_t k) {
  auto* out = static_cast<uint16_t*>(dst);
  from_float_bf16(src, out, k);
  for (int64_t i = k; i < round_up(k, 32); ++i) out[i] = 0;
}

void gemm_bf16(const GemmArgs& args) { run<Bf16Traits>(args); }

}  // namespace sarathi::kernels::avx512
