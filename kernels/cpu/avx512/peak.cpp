// The AVX-512 instruction-peak loops (kernels/peak.h): 12 independent chains of one instruction.
#include <cstdint>

#include "kernels/cpu/avx512/gemm.h"
#include "kernels/cpu/intrin.h"

namespace sarathi::kernels::avx512 {
namespace {

// acc[i] = step(acc[i], a, b) for 12 chains from different starts (equal chains would be
// computed once), iters times; the empty asm keeps a and b opaque so the loop is not folded.
// Returns the chains combined with add (the caller keeps the result).
template <class V, class In, class Init, class Step, class Add>
V chains(Init init, In a, In b, int64_t iters, Step step, Add add) {
  V acc[12];
#pragma GCC unroll 12
  for (int i = 0; i < 12; ++i) acc[i] = init(i);
  for (int64_t n = 0; n < iters; ++n) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = step(acc[i], a, b);
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  V s = acc[0];
#pragma GCC unroll 12
  for (int i = 1; i < 12; ++i) s = add(s, acc[i]);
  return s;
}

}  // namespace

double peak_fma(int64_t iters) {
  const __m512 s =
      chains<__m512>([](int i) { return _mm512_set1_ps(static_cast<float>(i)); },
                     _mm512_set1_ps(0.999f), _mm512_set1_ps(0.001f), iters,
                     [](__m512 c, __m512 a, __m512 b) { return _mm512_fmadd_ps(c, a, b); },
                     [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); });
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return static_cast<double>(iters) * 12 * 16 * 2;
}

double peak_vnni(int64_t iters) {
  const __m512i s = chains<__m512i>(
      [](int i) { return _mm512_set1_epi32(i); }, _mm512_set1_epi8(3), _mm512_set1_epi8(-5), iters,
      [](__m512i c, __m512i a, __m512i b) { return _mm512_dpbusd_epi32(c, a, b); },
      [](__m512i x, __m512i y) { return _mm512_add_epi32(x, y); });
  // The chains wrap around; sum them as unsigned (a signed reduction would overflow).
  alignas(64) uint32_t lanes[16];
  _mm512_store_si512(lanes, s);
  uint32_t total = 0;
  for (uint32_t v : lanes) total += v;
  volatile uint32_t sink = total;
  (void)sink;
  return static_cast<double>(iters) * 12 * 64 * 2;
}

double peak_bf16(int64_t iters) {
  // bf16 1.0 and about 0.001.
  const __m512 s = chains<__m512>(
      [](int i) { return _mm512_set1_ps(static_cast<float>(i)); }, _mm512_set1_epi16(0x3f80),
      _mm512_set1_epi16(0x3a83), iters,
      [](__m512 c, __m512i a, __m512i b) { return _mm512_dpbf16_ps(c, (__m512bh)a, (__m512bh)b); },
      [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); });
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return static_cast<double>(iters) * 12 * 32 * 2;
}

}  // namespace sarathi::kernels::avx512
