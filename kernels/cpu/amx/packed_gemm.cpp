// AMX-INT8 matmul over interleaved weights. The packed layout of a block's quants is exactly an
// AMX B tile (8 rows of k-groups x 16 weight rows x 4 bytes), so q8_0 weights load straight into
// a tile; q4_0 nibbles are first spread into a 512-byte buffer. A tile of 16 tokens x 32 bytes
// (one block of each token's quants) is A; TDPBSUD (signed activations x unsigned weights) gives
// the exact int32 block sums of 16 tokens x 16 rows, which AVX-512 then scales into f32
// accumulators. Two C tiles alternate so the tile unit runs ahead of the vector units.

#include "kernels/cpu/intrin.h"

#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/amx/packed_gemm.h"
#include "kernels/cpu/amx/tile_config.h"
#include "kernels/cpu/avx512/gemm.h"
#include "kernels/packed.h"

namespace sarathi::kernels::amx {
namespace {

using core::kQK8_0;

constexpr int64_t kTileToks = 16;

// tmm0, tmm1: C, 16 tokens x 16 int32; tmm2: A, 16 tokens x 32 bytes; tmm3: B, 8 x 64 bytes.
void configure_tiles() {
  TileConfig cfg;
  cfg.set(0, 16, 64);
  cfg.set(1, 16, 64);
  cfg.set(2, 16, 32);
  cfg.set(3, 8, 64);
  cfg.load();
}

struct Panel {
  const PackedGemmArgs* a;
  int64_t nb;
  int64_t t0;
  const uint8_t* w;  // the group
  const uint8_t* xq;       // token t0's quants
  const float* xd[kTileToks];
  const int32_t* xc[kTileToks];
};

// B for block b: q8_0 quants are already in tile order; q4_0 nibbles are spread into buf.
template <bool kQ8>
inline const uint8_t* b_tile(const Panel& p, int64_t b, uint8_t* buf) {
  constexpr size_t kQBytes = kQ8 ? 512 : 256;
  const uint8_t* q =
      p.w + static_cast<size_t>(b / 2) * (64 + 2 * kQBytes) + 64 + static_cast<size_t>(b % 2) * kQBytes;
  if constexpr (kQ8) {
    return q;
  } else {
    const __m512i lo4 = _mm512_set1_epi8(0x0f);
    for (int j = 0; j < 4; ++j) {
      const __m512i v = _mm512_loadu_si512(q + 64 * j);
      _mm512_store_si512(buf + 64 * j, _mm512_and_si512(v, lo4));
      _mm512_store_si512(buf + 64 * (j + 4), _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4));
    }
    return buf;
  }
}

// Issues block b's product into C tile kC.
template <bool kQ8, int kC>
inline void issue(const Panel& p, int64_t b, uint8_t* buf) {
  _tile_loadd(2, p.xq + b * kQK8_0, static_cast<long>(p.a->x_row_bytes));
  _tile_loadd(3, b_tile<kQ8>(p, b, buf), 64);
  // The tile macros take register numbers as literals.
  if constexpr (kC == 0) {
    _tile_zero(0);
    _tile_dpbsud(0, 2, 3);
  } else {
    _tile_zero(1);
    _tile_dpbsud(1, 2, 3);
  }
}

// Scales block b's int32 sums (in cbuf) into the accumulators: the same operations as the
// VNNI kernel (corr added in int32, one convert, dw * dx, one FMA).
template <bool kQ8>
inline void scale_block(const Panel& p, int64_t b, const int32_t* cbuf, __m512 (&acc)[kTileToks]) {
  constexpr size_t kQBytes = kQ8 ? 512 : 256;
  const uint8_t* scales =
      p.w + static_cast<size_t>(b / 2) * (64 + 2 * kQBytes) + static_cast<size_t>(b % 2) * 32;
  const __m512 dw =
      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales)));
#pragma GCC unroll 16
  for (int i = 0; i < kTileToks; ++i) {
    const __m512i v =
        _mm512_add_epi32(_mm512_load_si512(cbuf + 16 * i), _mm512_set1_epi32(p.xc[i][b]));
    const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(p.xd[i][b]));
    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), s, acc[i]);
  }
}

template <bool kQ8>
void panel(const PackedGemmArgs& a, int64_t g, int64_t t0, int64_t nb) {
  Panel p;
  p.a = &a;
  p.nb = nb;
  p.t0 = t0;
  p.w = a.w + static_cast<size_t>(g) * a.group_bytes;
  p.xq = a.x + static_cast<size_t>(t0) * a.x_row_bytes;
  for (int i = 0; i < kTileToks; ++i) {
    const uint8_t* r = p.xq + static_cast<size_t>(i) * a.x_row_bytes;
    p.xd[i] = reinterpret_cast<const float*>(r + nb * kQK8_0);
    p.xc[i] = reinterpret_cast<const int32_t*>(r + nb * (kQK8_0 + 4));
  }
  alignas(64) int32_t cbuf[2][kTileToks * 16];
  alignas(64) uint8_t bbuf[2][512];
  __m512 acc[kTileToks];
  for (auto& v : acc) v = _mm512_setzero_ps();

  // Software pipeline over blocks: C tile 0 holds even blocks, tile 1 odd ones, and the vector
  // units scale block b from a buffer stored one step earlier, while the tile unit works on
  // blocks b + 1 and b + 2 (a tile store read back at once stalls on the store).
  issue<kQ8, 0>(p, 0, bbuf[0]);
  if (nb > 1) issue<kQ8, 1>(p, 1, bbuf[1]);
  _tile_stored(0, cbuf[0], 64);
  for (int64_t b = 0; b < nb; b += 2) {
    if (b + 2 < nb) issue<kQ8, 0>(p, b + 2, bbuf[0]);
    if (b + 1 < nb) _tile_stored(1, cbuf[1], 64);
    scale_block<kQ8>(p, b, cbuf[0], acc);
    if (b + 1 >= nb) break;
    if (b + 3 < nb) issue<kQ8, 1>(p, b + 3, bbuf[1]);
    if (b + 2 < nb) _tile_stored(0, cbuf[0], 64);
    scale_block<kQ8>(p, b + 1, cbuf[1], acc);
  }

  const int64_t r0 = g * kPackRows;
  const int64_t valid = a.rows - r0;
  const __mmask16 mask =
      valid >= kPackRows ? __mmask16(0xffff) : static_cast<__mmask16>((1u << valid) - 1u);
  for (int i = 0; i < kTileToks; ++i) _mm512_mask_storeu_ps(a.y + (t0 + i) * a.ldy + r0, mask, acc[i]);
}

template <bool kQ8>
void run(const PackedGemmArgs& a) {
  const int64_t nb = a.k / kQK8_0;
  const int64_t full_end = a.tok_begin + (a.tok_end - a.tok_begin) / kTileToks * kTileToks;
  if (full_end > a.tok_begin) {
    configure_tiles();
    // A group's weights stay in L1/L2 while every token tile meets them.
    for (int64_t g = a.group_begin; g < a.group_end; ++g)
      for (int64_t t = a.tok_begin; t < full_end; t += kTileToks) panel<kQ8>(a, g, t, nb);
    _tile_release();
  }
  if (full_end < a.tok_end) {
    PackedGemmArgs rest = a;
    rest.tok_begin = full_end;
    if constexpr (kQ8) {
      avx512::packed_gemm_q8_0(rest);
    } else {
      avx512::packed_gemm_q4_0(rest);
    }
  }
}

}  // namespace

void packed_gemm_q8_0(const PackedGemmArgs& args) { run<true>(args); }
void packed_gemm_q4_0(const PackedGemmArgs& args) { run<false>(args); }

}  // namespace sarathi::kernels::amx
