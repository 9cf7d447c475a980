// AVX2 row ops for the block types: q8_0 and q8_K quantization (bit-equal to ref), q8_0/q4_0
// dequantization, and the integer dot products (maddubs + madd, as GGML's AVX2 paths).
#include <immintrin.h>

#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx2/type_ops.h"

namespace sarathi::kernels::avx2 {
namespace {

using core::BlockIQ4_NL;
using core::BlockIQ4_XS;
using core::BlockQ2_K;
using core::BlockQ3_K;
using core::BlockQ4_0;
using core::BlockQ4_1;
using core::BlockQ5_0;
using core::BlockQ5_1;
using core::BlockQ4_K;
using core::BlockQ5_K;
using core::BlockQ6_K;
using core::BlockQ8_0;
using core::BlockQ8_K;
using core::kQK8_0;
using core::kQK_K;

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

__m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// roundf: to nearest, ties away from zero. x - trunc(x) is exact, so comparing it with 0.5
// decides the rounding without double rounding.
__m256 round_away(__m256 x) {
  const __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 up = _mm256_cmp_ps(abs_ps(_mm256_sub_ps(x, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_and_ps(x, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
  return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

// Four vectors of 8 int32 (each in int8 range) -> 32 int8 in order.
__m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // lanes: a0 b0 | a1 b1 (4 each)
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // a0 b0 c0 d0 | a1 b1 c1 d1
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// <a, b> of 32 signed bytes as 8 int32 partial sums (sign trick: |a| is unsigned for maddubs).
__m256i dot_i8(__m256i a, __m256i b) {
  const __m256i prod = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
  return _mm256_madd_epi16(prod, _mm256_set1_epi16(1));
}

// f32 -> IEEE half bits, round to nearest even (as core::f32_to_f16).
uint16_t f32_to_f16_bits(float f) {
  const __m128i h = _mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT);
  return static_cast<uint16_t>(_mm_extract_epi16(h, 0));
}

__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
__m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// The 32 quants of a Q4_0 block (low nibbles = elements 0..15, high = 16..31) as bytes 0..15.
__m256i q4_0_nibbles(const uint8_t* qs) {
  const __m128i v = load128(qs);
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// 8 int8 at p -> 8 f32.
__m256 i8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

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

// Bit j of the little-endian u32 at p, as byte j: 0x10 where set, 0 where clear (the 5th bit of
// a Q5_0 / Q5_1 quant).
__m256i q5_high_bits(const uint8_t* p) {
  uint32_t bits = 0;
  std::memcpy(&bits, p, sizeof bits);
  // Byte j gets byte j / 8 of the word, then is tested against bit j % 8.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// sum over 32 elements of u * x (u unsigned bytes <= 31, x signed): exact in int32.
int32_t dot_u8_i8(__m256i u, __m256i x) {
  return hsum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1)));
}

// sum of 32 signed bytes.
int32_t sum_i8(__m256i x) { return dot_u8_i8(_mm256_set1_epi8(1), x); }

// The IQ4_NL table in both 128-bit lanes, for vpshufb lookups.
__m256i iq4nl_table() {
  return _mm256_broadcastsi128_si256(load128(core::kIq4nlValues));
}

// Scales of 16-element groups applied to a 32-element chunk's pair sums: maddubs gives 16 int16,
// the first 8 from elements 0..15 (group a), the last 8 from 16..31 (group b).
__m256i scaled_pairs(__m256i pairs, int scale_a, int scale_b) {
  const __m256i sc = _mm256_setr_m128i(_mm_set1_epi16(static_cast<int16_t>(scale_a)),
                                       _mm_set1_epi16(static_cast<int16_t>(scale_b)));
  return _mm256_madd_epi16(pairs, sc);
}

}  // namespace

// ---------------------------------------------------------------- q8_0 / q4_0

void to_float_q8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
    for (int k = 0; k < 4; ++k) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[i].qs + 8 * k));
      _mm256_storeu_ps(dst + i * kQK8_0 + 8 * k, _mm256_mul_ps(i8_to_ps(q), d));
    }
  }
}

void to_float_q4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
    const __m256i q = _mm256_sub_epi8(q4_0_nibbles(b[i].qs), _mm256_set1_epi8(8));
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    float* y = dst + i * kQK8_0;
    _mm256_storeu_ps(y + 0, _mm256_mul_ps(i8_to_ps(lo), d));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(i8_to_ps(_mm_srli_si128(lo, 8)), d));
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(i8_to_ps(hi), d));
    _mm256_storeu_ps(y + 24, _mm256_mul_ps(i8_to_ps(_mm_srli_si128(hi, 8)), d));
  }
}

void from_float_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float* x = src + i * kQK8_0;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax = _mm256_max_ps(amax, abs_ps(v[k]));
    }
    // Same scalar expressions as ref::from_float_q8_0, so the result is bit-equal.
    const float d = hmax(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16_bits(d);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[k], _mm256_set1_ps(id))));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs),
                        pack_i32_to_i8(q[0], q[1], q[2], q[3]));
  }
}

float vec_dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ8_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i dot = dot_i8(load256(bw[i].qs), load256(bx[i].qs));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), d, acc);
  }
  return hsum(acc);
}

float vec_dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ4_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i q = _mm256_sub_epi8(q4_0_nibbles(bw[i].qs), _mm256_set1_epi8(8));
    const __m256i dot = dot_i8(q, load256(bx[i].qs));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), d, acc);
  }
  return hsum(acc);
}

// ------------------------------------------------ q4_1, q5_0, q5_1, iq4_nl (against q8_0)
// Exact integer sums per block, then the oracle's float expression per block, so each result
// equals kernels/ref's.

float vec_dot_q4_1(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ4_1*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i xq = load256(bx[i].qs);
    const int32_t dot = dot_u8_i8(q4_0_nibbles(bw[i].qs), xq);
    const float dx = _cvtsh_ss(bx[i].d);
    sum += _cvtsh_ss(bw[i].d) * dx * static_cast<float>(dot) +
           _cvtsh_ss(bw[i].m) * dx * static_cast<float>(sum_i8(xq));
  }
  return sum;
}

float vec_dot_q5_0(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ5_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i xq = load256(bx[i].qs);
    const __m256i u = _mm256_or_si256(q4_0_nibbles(bw[i].qs), q5_high_bits(bw[i].qh));
    const int32_t isum = dot_u8_i8(u, xq) - 16 * sum_i8(xq);  // sum((u - 16) * x)
    sum += _cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d) * static_cast<float>(isum);
  }
  return sum;
}

float vec_dot_q5_1(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ5_1*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i xq = load256(bx[i].qs);
    const __m256i u = _mm256_or_si256(q4_0_nibbles(bw[i].qs), q5_high_bits(bw[i].qh));
    const float dx = _cvtsh_ss(bx[i].d);
    sum += _cvtsh_ss(bw[i].d) * dx * static_cast<float>(dot_u8_i8(u, xq)) +
           _cvtsh_ss(bw[i].m) * dx * static_cast<float>(sum_i8(xq));
  }
  return sum;
}

float vec_dot_iq4_nl(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockIQ4_NL*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const __m256i table = iq4nl_table();
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i v = _mm256_shuffle_epi8(table, q4_0_nibbles(bw[i].qs));
    const int32_t isum = hsum_i32(dot_i8(v, load256(bx[i].qs)));
    sum += _cvtsh_ss(bw[i].d) * _cvtsh_ss(bx[i].d) * static_cast<float>(isum);
  }
  return sum;
}

// ------------------------------------------------ q2_K, q3_K, iq4_xs (against q8_K)
// Element 128h + 32j + l of q2_K / q3_K is bits 2j..2j+1 of qs[32h + l]; the right shift of
// 16-bit lanes only brings the neighbour byte's bits above the mask.

float vec_dot_q2_k(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ2_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* sc = bw[i].scales;
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load256(bw[i].qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), low2);
        const int g = 8 * h + 2 * j;
        const __m256i pairs = _mm256_maddubs_epi16(u, load256(bx[i].qs + 128 * h + 32 * j));
        acc = _mm256_add_epi32(acc, scaled_pairs(pairs, sc[g] & 0x0f, sc[g + 1] & 0x0f));
      }
    }
    int32_t msum = 0;
    for (int g = 0; g < kQK_K / 16; ++g) msum += int32_t{sc[g] >> 4} * bx[i].bsums[g];
    const float d = _cvtsh_ss(bw[i].d) * bx[i].d;
    const float dmin = _cvtsh_ss(bw[i].dmin) * bx[i].d;
    sum += d * static_cast<float>(hsum_i32(acc)) - dmin * static_cast<float>(msum);
  }
  return sum;
}

float vec_dot_q3_k(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ3_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  const __m256i one = _mm256_set1_epi8(0x01);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sc[16];  // -32..31 (as ref::unpack_q3_k_scales)
    const uint8_t* p = bw[i].scales;
    for (int j = 0; j < 16; ++j) {
      const int low = j < 8 ? p[j] & 0x0f : p[j - 8] >> 4;
      sc[j] = (low | (((p[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
    }
    const __m256i hmask = load256(bw[i].hmask);
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load256(bw[i].qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        // u = q3 + 4 in 0..7: the 2 low bits, plus 4 where the hmask bit is set.
        const __m256i hbit = _mm256_and_si256(_mm256_srli_epi16(hmask, 4 * h + j), one);
        const __m256i u = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * j), low2),
                                          _mm256_slli_epi16(hbit, 2));
        const int g = 8 * h + 2 * j;
        const __m256i pairs = _mm256_maddubs_epi16(u, load256(bx[i].qs + 128 * h + 32 * j));
        acc = _mm256_add_epi32(acc, scaled_pairs(pairs, sc[g], sc[g + 1]));
      }
    }
    int32_t offset = 0;  // sum_g sc_g * 4 * sum(x_g): the +4 of u taken back out
    for (int g = 0; g < kQK_K / 16; ++g) offset += sc[g] * 4 * bx[i].bsums[g];
    const int32_t isum = hsum_i32(acc) - offset;
    sum += _cvtsh_ss(bw[i].d) * bx[i].d * static_cast<float>(isum);
  }
  return sum;
}

float vec_dot_iq4_xs(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockIQ4_XS*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m256i table = iq4nl_table();
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m256i acc = _mm256_setzero_si256();
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const int ls = (((bw[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) |
                      (((bw[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
      const __m256i v = _mm256_shuffle_epi8(table, q4_0_nibbles(bw[i].qs + 16 * ib));
      const __m256i xq = load256(bx[i].qs + 32 * ib);
      // |v| * x * sign(v): pair sums at most 2 * 127 * 127 < 2^15.
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(xq, v));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(static_cast<int16_t>(ls))));
    }
    sum += _cvtsh_ss(bw[i].d) * bx[i].d * static_cast<float>(hsum_i32(acc));
  }
  return sum;
}

// ---------------------------------------------------------------- q8_K

void from_float_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    __m256 vmax = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K; k += 8) vmax = _mm256_max_ps(vmax, abs_ps(_mm256_loadu_ps(x + k)));
    const float amax = hmax(vmax);
    if (amax == 0.0f) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The signed value of the first element of largest magnitude, as ref picks it.
    float max = 0.0f;
    for (int k = 0; k < kQK_K; k += 8) {
      const __m256 eq =
          _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + k)), _mm256_set1_ps(amax), _CMP_EQ_OQ);
      const int mask = _mm256_movemask_ps(eq);
      if (mask != 0) {
        max = x[k + __builtin_ctz(static_cast<unsigned>(mask))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    for (int k = 0; k < kQK_K; k += 32) {
      __m256i q[4];
      for (int j = 0; j < 4; ++j) {  // cvtps rounds to nearest even, as ref's nearest_int
        q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8 * j), vs));
        q[j] = _mm256_min_epi32(q[j], _mm256_set1_epi32(127));
      }
      // Sums of the two 16-element groups: lanes 0..3 of q0+q1 and of q2+q3.
      __m256i s = _mm256_hadd_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
      s = _mm256_hadd_epi32(s, s);  // lane 0: [A0-3 B0-3 A0-3 B0-3], lane 1: same for 4-7
      const __m128i g = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      b[i].bsums[k / 16] = static_cast<int16_t>(_mm_cvtsi128_si32(g));
      b[i].bsums[k / 16 + 1] = static_cast<int16_t>(_mm_extract_epi32(g, 1));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs + k),
                          pack_i32_to_i8(q[0], q[1], q[2], q[3]));
    }
    b[i].d = 1.0f / iscale;
  }
}

// ---------------------------------------------------------------- q4_K

float vec_dot_q4_k(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ4_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_q4_k_scales(bw[i].scales, sc, m);
    __m256i acc = _mm256_setzero_si256();
    for (int k = 0; k < kQK_K / 64; ++k) {  // 32 bytes: 32 low nibbles, then 32 high nibbles
      const __m256i v = load256(bw[i].qs + 32 * k);
      const __m256i lo = _mm256_and_si256(v, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      const __m256i p0 = _mm256_maddubs_epi16(lo, load256(bx[i].qs + 64 * k));
      const __m256i p1 = _mm256_maddubs_epi16(hi, load256(bx[i].qs + 64 * k + 32));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * k])));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * k + 1])));
    }
    int32_t msum = 0;
    for (int j = 0; j < 8; ++j)
      msum += int32_t{m[j]} * (bx[i].bsums[2 * j] + bx[i].bsums[2 * j + 1]);
    const float d = _cvtsh_ss(bw[i].d) * bx[i].d;
    const float dmin = _cvtsh_ss(bw[i].dmin) * bx[i].d;
    sum += d * static_cast<float>(hsum_i32(acc)) - dmin * static_cast<float>(msum);
  }
  return sum;
}

// ---------------------------------------------------------------- q5_K

// As q4_K, with each quant's 5th bit from qh: bit 2k of qh[l] for element 64k + l, bit 2k + 1
// for element 64k + 32 + l. The integer sums are exact, so the result equals the oracle's.
float vec_dot_q5_k(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ5_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(0x01);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_q4_k_scales(bw[i].scales, sc, m);
    const __m256i qh = load256(bw[i].qh);
    __m256i acc = _mm256_setzero_si256();
    for (int k = 0; k < kQK_K / 64; ++k) {
      const __m256i v = load256(bw[i].qs + 32 * k);
      // Within a 16-bit lane the right shift moves the high byte's bits into the low byte's top
      // bits only, which the mask to bit 0 drops; 2k + 1 <= 7 keeps each byte's own bit.
      const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), one);
      const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k + 1), one);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(v, low4), _mm256_slli_epi16(h0, 4));
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low4),
                                         _mm256_slli_epi16(h1, 4));
      const __m256i p0 = _mm256_maddubs_epi16(lo, load256(bx[i].qs + 64 * k));
      const __m256i p1 = _mm256_maddubs_epi16(hi, load256(bx[i].qs + 64 * k + 32));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * k])));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * k + 1])));
    }
    int32_t msum = 0;
    for (int j = 0; j < 8; ++j)
      msum += int32_t{m[j]} * (bx[i].bsums[2 * j] + bx[i].bsums[2 * j + 1]);
    const float d = _cvtsh_ss(bw[i].d) * bx[i].d;
    const float dmin = _cvtsh_ss(bw[i].dmin) * bx[i].d;
    sum += d * static_cast<float>(hsum_i32(acc)) - dmin * static_cast<float>(msum);
  }
  return sum;
}

// ---------------------------------------------------------------- q6_K

float vec_dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* bw = static_cast<const BlockQ6_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const int8_t* sc = bw[i].scales;
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {  // 128 elements: 64 bytes of ql, 32 of qh
      const __m256i ql0 = load256(bw[i].ql + 64 * h);
      const __m256i ql1 = load256(bw[i].ql + 64 * h + 32);
      const __m256i qh = load256(bw[i].qh + 32 * h);
      __m256i u[4];  // unsigned 6-bit quants (q + 32) of elements 128h + 32t ...
      u[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4),
                             _mm256_slli_epi16(_mm256_and_si256(qh, low2), 4));
      u[1] =
          _mm256_or_si256(_mm256_and_si256(ql1, low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), low2), 4));
      u[2] =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), low2), 4));
      u[3] =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), low2), 4));
      for (int t = 0; t < 4; ++t) {
        const int g = 8 * h + 2 * t;  // the two 16-element scale groups of this vector
        const __m256i p = _mm256_maddubs_epi16(u[t], load256(bx[i].qs + 128 * h + 32 * t));
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
      }
    }
    // sum((u - 32) * qx * sc) = sum(u * qx * sc) - 32 * sum(sc_g * bsums_g).
    const __m256i sc16 = _mm256_cvtepi8_epi16(load128(sc));
    const int32_t offset = hsum_i32(_mm256_madd_epi16(load256(bx[i].bsums), sc16));
    const float d = _cvtsh_ss(bw[i].d) * bx[i].d;
    sum += d * static_cast<float>(hsum_i32(acc) - 32 * offset);
  }
  return sum;
}

}  // namespace sarathi::kernels::avx2
