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
  /// GCC's _tile_loadconfig hands LDTILECFG its operand as an 8-byte "m" input, so the compiler
  /// may drop the stores of rows and colsb (bytes 16..63) as dead: the empty asm reading the
  /// whole struct keeps them (without it, a tile kernel was configured with every tile empty
  /// and faulted on its first tile instruction).
  void load() const {
    __asm__ volatile("" : : "m"(*this));
    _tile_loadconfig(this);
  }
};
static_assert(sizeof(TileConfig) == 64);

}  // namespace sarathi::kernels::amx
