// kernels/cpu/amx/tile_config.h: the AMX tile configuration (palette 1) the tile kernels load
// with LDTILECFG. Compiled with the AMX flags only.
#pragma once

#include <cstdint>

#include "kernels/cpu/intrin.h"

namespace sarathi::kernels::amx {

/// Starts with every tile unconfigured (0 rows, 0 bytes); set() shapes the ones a kernel uses.
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};

  /// Tile t: `rows` rows of `bytes` bytes (rows = 0 leaves it unconfigured).
  void set(int t, int rows_, int bytes) {
    rows[t] = static_cast<uint8_t>(rows_);
    colsb[t] = static_cast<uint16_t>(rows_ > 0 ? bytes : 0);
  }
  void load() const { _tile_loadconfig(this); }
};
static_assert(sizeof(TileConfig) == 64);

}  // namespace sarathi::kernels::amx
