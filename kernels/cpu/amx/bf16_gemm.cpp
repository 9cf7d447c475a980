// AMX-BF16 matmul over interleaved bf16 weights (kernels/packed.h). A packed 32-element block of
// a 16-row group is exactly a TDPBF16PS B tile (16 pair rows x 64 bytes), and 16 tokens' bf16
// activations for the same block are an A tile (rows x_row_bytes apart), so the kernel is tile
// loads and TDPBF16PS only: C tiles of 16 tokens x 16 rows accumulate in f32 over all of k and
// are stored straight into y. Blocks of 2 groups x 2 token tiles use all eight tile registers
// (4 C, 2 A, 2 B). Fewer than 16 tokens (a decode step) run on tiles configured with that many
// rows, so every output is computed the same way whatever its batch: row m of a C tile depends
// only on row m of A.

#include "kernels/cpu/intrin.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/amx/packed_gemm.h"
#include "kernels/cpu/amx/tile_config.h"
#include "kernels/packed.h"

namespace sarathi::kernels::amx {
namespace {

constexpr int64_t kTileToks = 16;

// Tile registers: C(i, j) = tmm(2i + j) for token tile i and group j; A(i) = tmm(4 + i);
// B(j) = tmm(6 + j). rows0 / rows1: tokens in the first / second token tile (rows1 may be 0:
// then C(1, *) and A(1) stay unconfigured and unused).
void configure(int rows0, int rows1) {
  TileConfig cfg;
  for (int t : {0, 1, 4}) cfg.set(t, rows0, 64);
  for (int t : {2, 3, 5}) cfg.set(t, rows1, 64);
  cfg.set(6, 16, 64);
  cfg.set(7, 16, 64);
  cfg.load();
}

// Stores C tile kC (token tile rows starting at token t, group g) into y; a last group with
// fewer than 16 rows goes through a buffer.
template <int kC>
inline void tile_store(void* p, long stride) {
  // The tile intrinsics take register numbers as literals.
  if constexpr (kC == 0) _tile_stored(0, p, stride);
  if constexpr (kC == 1) _tile_stored(1, p, stride);
  if constexpr (kC == 2) _tile_stored(2, p, stride);
  if constexpr (kC == 3) _tile_stored(3, p, stride);
}

template <int kC>
inline void store_c(const PackedGemmArgs& a, int64_t g, int64_t t, int rows) {
  const int64_t r0 = g * kPackRows;
  float* y = a.y + t * a.ldy + r0;
  const long stride = static_cast<long>(a.ldy * static_cast<int64_t>(sizeof(float)));
  if (r0 + kPackRows <= a.rows) {
    tile_store<kC>(y, stride);
    return;
  }
  alignas(64) float buf[kTileToks * kPackRows];
  tile_store<kC>(buf, kPackRows * static_cast<long>(sizeof(float)));
  const auto valid = static_cast<size_t>(a.rows - r0);
  for (int i = 0; i < rows; ++i)
    std::memcpy(y + i * a.ldy, buf + i * kPackRows, valid * sizeof(float));
}

// kGroups groups from g and kTiles token tiles from t over all nkb blocks.
template <int kGroups, int kTiles>
void block(const PackedGemmArgs& a, int64_t g, int64_t t, int64_t nkb, int rows0, int rows1) {
  const uint8_t* w0 = a.w + static_cast<size_t>(g) * a.group_bytes;
  const uint8_t* w1 = w0 + a.group_bytes;
  const uint8_t* x0 = a.x + static_cast<size_t>(t) * a.x_row_bytes;
  const uint8_t* x1 = x0 + static_cast<size_t>(kTileToks) * a.x_row_bytes;
  const auto xs = static_cast<long>(a.x_row_bytes);
  _tile_zero(0);
  if constexpr (kGroups == 2) _tile_zero(1);
  if constexpr (kTiles == 2) _tile_zero(2);
  if constexpr (kGroups == 2 && kTiles == 2) _tile_zero(3);
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const size_t xo = static_cast<size_t>(kb) * kPackBlock * 2;
    const size_t wo = static_cast<size_t>(kb) * kPackedBf16BlockBytes;
    _tile_loadd(4, x0 + xo, xs);
    _tile_loadd(6, w0 + wo, 64);
    if constexpr (kTiles == 2) _tile_loadd(5, x1 + xo, xs);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (kTiles == 2) _tile_dpbf16ps(2, 5, 6);
    if constexpr (kGroups == 2) {
      _tile_loadd(7, w1 + wo, 64);
      _tile_dpbf16ps(1, 4, 7);
      if constexpr (kTiles == 2) _tile_dpbf16ps(3, 5, 7);
    }
  }
  store_c<0>(a, g, t, rows0);
  if constexpr (kGroups == 2) store_c<1>(a, g + 1, t, rows0);
  if constexpr (kTiles == 2) {
    store_c<2>(a, g, t + kTileToks, rows1);
    if constexpr (kGroups == 2) store_c<3>(a, g + 1, t + kTileToks, rows1);
  }
}

}  // namespace

void packed_gemm_bf16(const PackedGemmArgs& a) {
  if (a.tok_end <= a.tok_begin || a.group_end <= a.group_begin) return;
  const int64_t nkb = (a.k + kPackBlock - 1) / kPackBlock;
  int cur0 = -1, cur1 = -1;
  // Two groups' weights stay in L2 while every token tile of the call meets them.
  for (int64_t g = a.group_begin; g < a.group_end; g += 2) {
    const bool two_groups = g + 1 < a.group_end;
    for (int64_t t = a.tok_begin; t < a.tok_end; t += 2 * kTileToks) {
      const int64_t left = a.tok_end - t;
      const int rows0 = static_cast<int>(std::min(left, kTileToks));
      const int rows1 = static_cast<int>(std::clamp<int64_t>(left - kTileToks, 0, kTileToks));
      if (rows0 != cur0 || rows1 != cur1) {
        configure(rows0, rows1);
        cur0 = rows0;
        cur1 = rows1;
      }
      if (two_groups) {
        if (rows1 > 0) {
          block<2, 2>(a, g, t, nkb, rows0, rows1);
        } else {
          block<2, 1>(a, g, t, nkb, rows0, rows1);
        }
      } else {
        if (rows1 > 0) {
          block<1, 2>(a, g, t, nkb, rows0, rows1);
        } else {
          block<1, 1>(a, g, t, nkb, rows0, rows1);
        }
      }
    }
  }
  _tile_release();
}

}  // namespace sarathi::kernels::amx
