// kernels/cpu/intrin.h: <immintrin.h> for the ISA folders, and SARATHI_INLINE. Only code compiled
// with an ISA's flags (kernels/cpu/<isa>/*.cpp) includes it.
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
