// kernels/cpu/intrin.h: <immintrin.h> for the ISA folders, SARATHI_INLINE and load_i32. Only code
// compiled with an ISA's flags (kernels/cpu/<isa>/*.cpp) includes it.
#pragma once

// GCC 12.2's AVX-512 headers self-initialise _mm512_undefined_*() values, which -Wuninitialized
// reports wherever such an intrinsic is inlined (GCC bug 105593, fixed in 12.3).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Forces inlining where a tile's accumulators must stay in registers (GCC keeps an array that
/// crosses a call in memory).
#define SARATHI_INLINE inline __attribute__((always_inline))

#include <cstdint>
#include <cstring>

namespace sarathi::kernels {

/// Four consecutive int8 quants (or two int16) as one int32, to broadcast into a dot product.
SARATHI_INLINE int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace sarathi::kernels
