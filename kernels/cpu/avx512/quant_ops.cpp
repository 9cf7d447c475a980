// AVX-512 row ops for the block types: q8_0 and q8_K quantization (bit-equal to ref), q8_0/q4_0
// dequantization, and the integer dot products with VNNI: vpdpbusd for q8_0/q4_0 (two 32-blocks
// per vector), maddubs + vpdpwssd for the K-quants (scales applied in the int16 domain).

#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx512/type_ops.h"
#include "kernels/cpu/intrin.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx512 {
namespace {

using core::BlockQ4_0;
using core::BlockQ4_K;
using core::BlockQ6_K;
using core::BlockQ8_0;
using core::BlockQ8_K;
using core::kQK8_0;
using core::kQK_K;

// f32 -> IEEE half bits, round to nearest even (as core::f32_to_f16).
uint16_t f32_to_f16_bits(float f) {
  const __m128i h = _mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT);
  return static_cast<uint16_t>(_mm_extract_epi16(h, 0));
}

__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
__m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// Two 256-bit halves -> one 512-bit vector (a low, b high).
__m512i join(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

// roundf: to nearest, ties away from zero (x - trunc(x) is exact).
__m512 round_away(__m512 x) {
  const __m512 t = _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 up =
      _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(x, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_and_ps(x, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));
  return _mm512_mask_add_ps(t, up, t, one);
}

// The 32 quants of a Q4_0 block (low nibbles = elements 0..15, high = 16..31), unsigned 0..15.
__m256i q4_0_nibbles(const uint8_t* qs) {
  const __m128i v = load128(qs);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0f));
}

// d scales for two blocks: a in lanes 0..7, b in lanes 8..15.
__m512 two_scales(float a, float b) {
  return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

int32_t hsum256_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// GGML's get_scale_min_k4 for all 8 sub-blocks.
void unpack_q4_k_scales(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = q[j] & 63;
    m[j] = q[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    m[j] = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// int16 lane k of the Q6_K scale permutation picks scale group k / 8 (+ a base group).
alignas(64) constexpr int16_t kGroupOfLane[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                  2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};

}  // namespace

// ---------------------------------------------------------------- q8_0 / q4_0

void to_float_q8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
    for (int k = 0; k < 2; ++k) {
      const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load128(b[i].qs + 16 * k)));
      _mm512_storeu_ps(dst + i * kQK8_0 + 16 * k, _mm512_mul_ps(q, d));
    }
  }
}

void to_float_q4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
    const __m256i q = _mm256_sub_epi8(q4_0_nibbles(b[i].qs), _mm256_set1_epi8(8));
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
    _mm512_storeu_ps(dst + i * kQK8_0, _mm512_mul_ps(lo, d));
    _mm512_storeu_ps(dst + i * kQK8_0 + 16, _mm512_mul_ps(hi, d));
  }
}

void from_float_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m512 v0 = _mm512_loadu_ps(src + i * kQK8_0);
    const __m512 v1 = _mm512_loadu_ps(src + i * kQK8_0 + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    // Same scalar expressions as ref::from_float_q8_0, so the result is bit-equal.
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16_bits(d);
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v0, vid)));
    const __m512i q1 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v1, vid)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16), _mm512_cvtsepi32_epi8(q1));
  }
}

void pack_x_q8_rows(const float* src, void* dst, int64_t k, int32_t c) {
  const int64_t nb = k / kQK8_0;
  auto* out = static_cast<uint8_t*>(dst);
  auto* d = reinterpret_cast<float*>(out + nb * kQK8_0);
  auto* corr = reinterpret_cast<int32_t*>(out + nb * (kQK8_0 + 4));
  for (int64_t i = 0; i < nb; ++i) {
    // from_float_q8_0's block, with the sum of its quants taken from the same registers.
    const __m512 v0 = _mm512_loadu_ps(src + i * kQK8_0);
    const __m512 v1 = _mm512_loadu_ps(src + i * kQK8_0 + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float dd = amax / 127.0f;
    const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
    d[i] = _cvtsh_ss(f32_to_f16_bits(dd));
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v0, vid)));
    const __m512i q1 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v1, vid)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i * kQK8_0), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i * kQK8_0 + 16), _mm512_cvtsepi32_epi8(q1));
    // |q| <= 127 after round_away of |x| * 127 / amax, so the int32 sum equals that of the
    // saturated int8 quants.
    corr[i] = -c * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  }
  const size_t used = static_cast<size_t>(nb) * (kQK8_0 + 8);
  std::memset(out + used, 0, packed_x_bytes(k) - used);
}

float vec_dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ8_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {  // two blocks per vector; |w| is unsigned, sign moves to x
    const __m512i qw = join(load256(bw[i].qs), load256(bw[i + 1].qs));
    const __m512i qx = join(load256(bx[i].qs), load256(bx[i + 1].qs));
    const __mmask64 neg = _mm512_movepi8_mask(qw);
    const __m512i qx_signed = _mm512_mask_sub_epi8(qx, neg, _mm512_setzero_si512(), qx);
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(qw), qx_signed);
    const __m512 d = two_scales(_cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d),
                                _cvtsh_ss(bw[i + 1].d) * _cvtsh_ss(bx[i + 1].d));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, acc);
  }
  float sum = _mm512_reduce_add_ps(acc);
  if (i < nb) {
    const __m256i qw = load256(bw[i].qs);
    const __m256i qx = load256(bx[i].qs);
    const __m256i dot =
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(qw), _mm256_sign_epi8(qx, qw));
    sum += _cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d) * hsum256(_mm256_cvtepi32_ps(dot));
  }
  return sum;
}

float vec_dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ4_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  // sum((q - 8) * x) = dpbusd(q, x) - dpbusd(8, x), with q unsigned 0..15.
  const __m512i eight = _mm512_set1_epi8(8);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m512i qw = join(q4_0_nibbles(bw[i].qs), q4_0_nibbles(bw[i + 1].qs));
    const __m512i qx = join(load256(bx[i].qs), load256(bx[i + 1].qs));
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qw, qx);
    const __m512i off = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, qx);
    const __m512 d = two_scales(_cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d),
                                _cvtsh_ss(bw[i + 1].d) * _cvtsh_ss(bx[i + 1].d));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dot, off)), d, acc);
  }
  float sum = _mm512_reduce_add_ps(acc);
  if (i < nb) {
    const __m256i qx = load256(bx[i].qs);
    const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q4_0_nibbles(bw[i].qs), qx);
    const __m256i off = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), qx);
    sum += _cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d) *
           hsum256(_mm256_cvtepi32_ps(_mm256_sub_epi32(dot, off)));
  }
  return sum;
}

// ---------------------------------------------------------------- q8_K

void from_float_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    __m512 vmax = _mm512_setzero_ps();
    for (int k = 0; k < kQK_K; k += 16)
      vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
    const float amax = _mm512_reduce_max_ps(vmax);
    if (amax == 0.0f) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The signed value of the first element of largest magnitude, as ref picks it.
    float max = 0.0f;
    for (int k = 0; k < kQK_K; k += 16) {
      const __mmask16 eq = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + k)),
                                              _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (eq != 0) {
        max = x[k + __builtin_ctz(eq)];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 vs = _mm512_set1_ps(iscale);
    for (int g = 0; g < kQK_K / 16; ++g) {  // one vector = one 16-element bsums group
      // cvtps rounds to nearest even, as ref's nearest_int.
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * g), vs));
      q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
      b[i].bsums[g] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16 * g), _mm512_cvtsepi32_epi8(q));
    }
    b[i].d = 1.0f / iscale;
  }
}

// ---------------------------------------------------------------- q4_K

float vec_dot_q4_k(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ4_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  // bsums pairs (2j, 2j+1) share min j: madd with each min repeated twice.
  const __m256i min_of_bsum = _mm256_setr_epi16(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  // Per-lane f32 accumulators across blocks: no horizontal sums inside the loop.
  __m512 acc_q = _mm512_setzero_ps();    // d * sum_j sc_j * <q_j, qx_j>
  __m256 acc_min = _mm256_setzero_ps();  // dmin * sum_j m_j * bsums of j
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_q4_k_scales(bw[i].scales, sc, m);
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();  // two chains
    for (int k = 0; k < kQK_K / 64; ++k) {
      // 32 bytes hold 64 elements: low nibbles (sub-block 2k) then high nibbles (2k + 1).
      const __m256i v = load256(bw[i].qs + 32 * k);
      const __m512i q = _mm512_and_si512(join(v, _mm256_srli_epi16(v, 4)), low4);
      const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(bx[i].qs + 64 * k));
      const __m512i s = join(_mm256_set1_epi16(sc[2 * k]), _mm256_set1_epi16(sc[2 * k + 1]));
      if (k % 2 == 0) {
        acc0 = _mm512_dpwssd_epi32(acc0, p, s);
      } else {
        acc1 = _mm512_dpwssd_epi32(acc1, p, s);
      }
    }
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(m)));
    const __m256i msum =
        _mm256_madd_epi16(load256(bx[i].bsums), _mm256_permutexvar_epi16(min_of_bsum, mins));
    const float d = _cvtsh_ss(bw[i].d) * bx[i].d;
    const float dmin = _cvtsh_ss(bw[i].dmin) * bx[i].d;
    acc_q =
        _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1)), _mm512_set1_ps(d), acc_q);
    acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin), acc_min);
  }
  return _mm512_reduce_add_ps(acc_q) - hsum256(acc_min);
}

// ---------------------------------------------------------------- q6_K

float vec_dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ6_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i low2 = _mm512_set1_epi8(0x03);
  const __m512i group_of_lane = _mm512_load_si512(kGroupOfLane);
  // Per-256-bit-half shifts of qh: elements 0..31 use bits 0-1 (low half), 32..63 bits 2-3,
  // 64..95 bits 4-5, 96..127 bits 6-7.
  const __m512i shift_a = join(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
  const __m512i shift_b = join(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(load128(bw[i].scales));
    const __m512i sc_all = _mm512_castsi256_si512(sc16);
    __m512i acc = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {  // 128 elements: 64 bytes of ql, 32 of qh
      const __m512i ql = _mm512_loadu_si512(bw[i].ql + 64 * h);
      const __m256i qh256 = load256(bw[i].qh + 32 * h);
      const __m512i qh = join(qh256, qh256);
      const __m512i hi_a = _mm512_and_si512(_mm512_srlv_epi16(qh, shift_a), low2);
      const __m512i hi_b = _mm512_and_si512(_mm512_srlv_epi16(qh, shift_b), low2);
      // Unsigned 6-bit quants (q + 32) of elements 128h + 0..63 and 128h + 64..127.
      const __m512i ua = _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_slli_epi16(hi_a, 4));
      const __m512i ub = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                         _mm512_slli_epi16(hi_b, 4));
      const __m512i pa = _mm512_maddubs_epi16(ua, _mm512_loadu_si512(bx[i].qs + 128 * h));
      const __m512i pb = _mm512_maddubs_epi16(ub, _mm512_loadu_si512(bx[i].qs + 128 * h + 64));
      // 8 int16 products per 16-element group: lane k of pa belongs to group 8h + k / 8.
      const __m512i idx_a =
          _mm512_add_epi16(group_of_lane, _mm512_set1_epi16(static_cast<int16_t>(8 * h)));
      const __m512i idx_b = _mm512_add_epi16(idx_a, _mm512_set1_epi16(4));
      acc = _mm512_dpwssd_epi32(acc, pa, _mm512_permutexvar_epi16(idx_a, sc_all));
      acc = _mm512_dpwssd_epi32(acc, pb, _mm512_permutexvar_epi16(idx_b, sc_all));
    }
    // sum((u - 32) * qx * sc) = sum(u * qx * sc) - 32 * sum(sc_g * bsums_g).
    const int32_t offset = hsum256_i32(_mm256_madd_epi16(load256(bx[i].bsums), sc16));
    const float d = _cvtsh_ss(bw[i].d) * bx[i].d;
    sum += d * static_cast<float>(_mm512_reduce_add_epi32(acc) - 32 * offset);
  }
  return sum;
}

}  // namespace sarathi::kernels::avx512
