// The AMX instruction-peak loops (kernels/peak.h): four C tiles (16 x 16 f32 / int32) fed by two
// A and two B tiles of 16 rows x 64 bytes, the tile shapes of the AMX matmul kernels; each
// iteration is four tile products.
#include <cstdint>

#include "kernels/cpu/amx/packed_gemm.h"
#include "kernels/cpu/amx/tile_config.h"
#include "kernels/cpu/intrin.h"

namespace sarathi::kernels::amx {
namespace {

void configure_and_load(const void* zeros) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.set(t, 16, 64);
  cfg.load();
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, zeros, 64);
  _tile_loadd(5, zeros, 64);
  _tile_loadd(6, zeros, 64);
  _tile_loadd(7, zeros, 64);
}

// Four tile products per iteration (C tiles 0..3 from A tiles 4, 5 and B tiles 6, 7), then one
// C tile stored so the work is kept.
template <bool kBf16>
void products(int64_t iters) {
  alignas(64) static const uint8_t zeros[16 * 64] = {};
  alignas(64) int32_t out[16 * 16];
  configure_and_load(zeros);
  for (int64_t n = 0; n < iters; ++n) {
    if constexpr (kBf16) {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    } else {
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_stored(0, out, 64);
  _tile_release();
  volatile int32_t sink = out[0];
  (void)sink;
}

}  // namespace

double peak_bf16(int64_t iters) {
  products<true>(iters);
  return static_cast<double>(iters) * 4 * (16 * 16 * 32) * 2;
}

double peak_int8(int64_t iters) {
  products<false>(iters);
  return static_cast<double>(iters) * 4 * (16 * 16 * 64) * 2;
}

}  // namespace sarathi::kernels::amx
