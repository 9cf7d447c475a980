// tests/kernels/amx_emulate.h: a software model of the AMX tile instructions the kernels use
// (LDTILECFG, TILELOADD, TILESTORED, TILEZERO, TDPBF16PS, TDPBSUD, TILERELEASE), after the
// pseudocode of the Intel SDM, so that the tile kernels' control flow (pipelines, tile shapes,
// partial rows, k chunks) runs and is checked against the oracle on CPUs without AMX.
// Force-included (-include) into a second compile of kernels/cpu/amx/*.cpp built with the
// AVX-512 flags only and -Damx=amx_emu (so its symbols do not clash with the real kernels).
// Faults the real unit would raise (an unconfigured tile, mismatched shapes) abort here.
#pragma once

#include "kernels/cpu/intrin.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sarathi_amx_emu {

struct Tile {
  int rows = 0;
  int colsb = 0;
  alignas(64) uint8_t data[16][64] = {};
};

struct State {
  bool configured = false;
  Tile t[8];
};

inline thread_local State state;

[[noreturn]] inline void fault(const char* what, int a) {
  std::fprintf(stderr, "amx_emulate: %s (tile %d)\n", what, a);
  std::abort();
}

inline Tile& tile(int i) {
  if (!state.configured) fault("tile instruction without a configuration", i);
  if (i < 0 || i > 7 || state.t[i].rows == 0) fault("unconfigured tile", i);
  return state.t[i];
}

inline void loadconfig(const void* cfg) {
  const auto* b = static_cast<const uint8_t*>(cfg);
  if (b[0] != 1) fault("palette is not 1", 0);
  for (int i = 0; i < 8; ++i) {
    uint16_t colsb;
    std::memcpy(&colsb, b + 16 + 2 * i, 2);
    const int rows = b[48 + i];
    if (rows > 16 || colsb > 64 || (rows == 0) != (colsb == 0)) fault("bad shape", i);
    state.t[i] = Tile{};
    state.t[i].rows = rows;
    state.t[i].colsb = colsb;
  }
  state.configured = true;
}

inline void release() { state = State{}; }

inline void loadd(int i, const void* base, long stride) {
  Tile& t = tile(i);
  std::memset(t.data, 0, sizeof(t.data));
  for (int r = 0; r < t.rows; ++r)
    std::memcpy(t.data[r], static_cast<const uint8_t*>(base) + r * stride,
                static_cast<size_t>(t.colsb));
}

inline void stored(int i, void* base, long stride) {
  const Tile& t = tile(i);
  for (int r = 0; r < t.rows; ++r)
    std::memcpy(static_cast<uint8_t*>(base) + r * stride, t.data[r], static_cast<size_t>(t.colsb));
}

inline void zero(int i) { std::memset(tile(i).data, 0, sizeof(Tile::data)); }

inline void check_shapes(const Tile& c, const Tile& a, const Tile& b) {
  if (a.rows != c.rows || b.colsb != c.colsb || b.rows * 4 != a.colsb || c.colsb % 4 != 0)
    fault("tile shapes do not multiply", 0);
}

inline float f32_at(const Tile& t, int r, int word) {
  uint16_t h;
  std::memcpy(&h, t.data[r] + 2 * word, 2);
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// C[m][n] += sum over k of A[m] pair k times B[k] pair n, each product an FMA in f32.
inline void dpbf16ps(int ci, int ai, int bi) {
  Tile& c = tile(ci);
  const Tile& a = tile(ai);
  const Tile& b = tile(bi);
  check_shapes(c, a, b);
  for (int m = 0; m < c.rows; ++m) {
    float* row = reinterpret_cast<float*>(c.data[m]);
    for (int k = 0; k < a.colsb / 4; ++k)
      for (int n = 0; n < c.colsb / 4; ++n) {
        row[n] = std::fma(f32_at(a, m, 2 * k), f32_at(b, k, 2 * n), row[n]);
        row[n] = std::fma(f32_at(a, m, 2 * k + 1), f32_at(b, k, 2 * n + 1), row[n]);
      }
  }
}

// C[m][n] += sum of signed A bytes times unsigned B bytes (int32, wrapping as the unit does).
inline void dpbsud(int ci, int ai, int bi) {
  Tile& c = tile(ci);
  const Tile& a = tile(ai);
  const Tile& b = tile(bi);
  check_shapes(c, a, b);
  for (int m = 0; m < c.rows; ++m) {
    auto* row = reinterpret_cast<int32_t*>(c.data[m]);
    for (int k = 0; k < a.colsb / 4; ++k)
      for (int n = 0; n < c.colsb / 4; ++n) {
        int32_t s = 0;
        for (int i = 0; i < 4; ++i)
          s += static_cast<int8_t>(a.data[m][4 * k + i]) * int32_t{b.data[k][4 * n + i]};
        row[n] = static_cast<int32_t>(static_cast<uint32_t>(row[n]) + static_cast<uint32_t>(s));
      }
  }
}

}  // namespace sarathi_amx_emu

#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#undef _tile_dpbsud
#define _tile_loadconfig(cfg) ::sarathi_amx_emu::loadconfig(cfg)
#define _tile_release() ::sarathi_amx_emu::release()
#define _tile_loadd(t, base, stride) ::sarathi_amx_emu::loadd(t, base, stride)
#define _tile_stored(t, base, stride) ::sarathi_amx_emu::stored(t, base, stride)
#define _tile_zero(t) ::sarathi_amx_emu::zero(t)
#define _tile_dpbf16ps(c, a, b) ::sarathi_amx_emu::dpbf16ps(c, a, b)
#define _tile_dpbsud(c, a, b) ::sarathi_amx_emu::dpbsud(c, a, b)
