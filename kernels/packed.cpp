#include "kernels/packed.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

#include "core/check.h"
#include "core/fp16.h"
#include "kernels/ref/type_ops.h"

namespace sarathi::kernels {

using core::BlockQ4_0;
using core::BlockQ8_0;
using core::DType;
using core::kQK8_0;

namespace {
size_t round64(size_t n) { return (n + 63) / 64 * 64; }
// Activation rows span an odd number of 64-byte lines: a tile's rows (16 tokens, one row
// stride apart) then fall in 16 different L1 sets. At an even stride such as 4096 bytes (bf16,
// k = 2048) they all share one set and evict each other.
size_t odd_lines(size_t n) {
  const size_t r = round64(n);
  return (r / 64) % 2 == 0 ? r + 64 : r;
}
}  // namespace

bool packable(DType t) {
  return std::find(std::begin(kPackableTypes), std::end(kPackableTypes), t) !=
         std::end(kPackableTypes);
}

int32_t packed_offset(DType t) { return t == DType::kQ8_0 ? 128 : 8; }

size_t packed_block_quant_bytes(DType t) { return t == DType::kQ8_0 ? 512 : 256; }

namespace {
int64_t bf16_blocks(int64_t k) { return (k + kPackBlock - 1) / kPackBlock; }
}  // namespace

size_t packed_group_bytes(DType t, int64_t k) {
  if (t == DType::kBF16) return static_cast<size_t>(bf16_blocks(k)) * kPackedBf16BlockBytes;
  if (t == DType::kQ4_K) return static_cast<size_t>(k / core::kQK_K) * kQ4KSuperBytes;
  if (t == DType::kQ5_K) return static_cast<size_t>(k / core::kQK_K) * kQ5KSuperBytes;
  if (t == DType::kQ6_K) return static_cast<size_t>(k / core::kQK_K) * kQ6KSuperBytes;
  const auto nb = static_cast<size_t>(k / kQK8_0);
  return (nb + 1) / 2 * packed_pair_bytes(t);
}

size_t packed_x_bytes(int64_t k) {
  const auto nb = static_cast<size_t>(k / kQK8_0);
  return odd_lines(nb * (kQK8_0 + 8));
}

size_t packed_x_bytes(DType t, int64_t k) {
  if (t == DType::kBF16) return odd_lines(static_cast<size_t>(bf16_blocks(k)) * kPackBlock * 2);
  if (t == DType::kQ4_K || t == DType::kQ5_K) {
    const auto ns = static_cast<size_t>(k / core::kQK_K);
    return odd_lines(ns * (core::kQK_K + 4 + 16));
  }
  if (t == DType::kQ6_K) {
    const auto ns = static_cast<size_t>(k / core::kQK_K);
    return odd_lines(ns * (core::kQK_K + 4 + 64));
  }
  return packed_x_bytes(k);
}

namespace {
// bf16: each pair of a row's elements (4 bytes) goes to its slot in the block's B tile.
void pack_bf16_groups(const WeightView& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  const size_t gbytes = packed_group_bytes(DType::kBF16, w.cols);
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t g = g_begin; g < g_end; ++g) {
    uint8_t* group = dst + static_cast<size_t>(g) * gbytes;
    std::memset(group, 0, gbytes);
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < w.rows; ++n) {
      const auto* row = src + static_cast<size_t>(g * kPackRows + n) * w.row_bytes;
      for (int64_t e = 0; e < w.cols; e += 2) {
        uint8_t* slot = group + static_cast<size_t>(e / kPackBlock) * kPackedBf16BlockBytes +
                        static_cast<size_t>((e % kPackBlock) / 2) * 64 + static_cast<size_t>(n) * 4;
        std::memcpy(slot, row + e * 2, e + 1 < w.cols ? 4 : 2);  // an odd width's last pair
      }
    }
  }
}
// q4_K: scales, mins and quants of each row's super-blocks into their slots (kernels/packed.h).
void pack_q4_k_groups(const WeightView& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  SARATHI_CHECK(w.cols % core::kQK_K == 0, "cannot pack q4_K [{}, {}]", w.rows, w.cols);
  const int64_t ns = w.cols / core::kQK_K;
  const size_t gbytes = packed_group_bytes(DType::kQ4_K, w.cols);
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t g = g_begin; g < g_end; ++g) {
    uint8_t* group = dst + static_cast<size_t>(g) * gbytes;
    std::memset(group, 0, gbytes);
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < w.rows; ++n) {
      const auto* row = reinterpret_cast<const core::BlockQ4_K*>(
          src + static_cast<size_t>(g * kPackRows + n) * w.row_bytes);
      for (int64_t s = 0; s < ns; ++s) {
        const core::BlockQ4_K& b = row[s];
        uint8_t* sb = group + static_cast<size_t>(s) * kQ4KSuperBytes;
        std::memcpy(sb + 2 * n, &b.d, 2);
        std::memcpy(sb + 32 + 2 * n, &b.dmin, 2);
        uint8_t sc[8], m[8];
        ref::unpack_q4_k_scales(b.scales, sc, m);
        for (int j = 0; j < 8; ++j) {
          sb[kQ4KScalesOff + static_cast<size_t>(j) * 16 + static_cast<size_t>(n)] = sc[j];
          sb[kQ4KMinsOff + static_cast<size_t>(j / 2) * 32 + static_cast<size_t>(n) * 2 + static_cast<size_t>(j % 2)] = m[j];
        }
        // GGML: 32 bytes hold 64 elements, low nibbles sub-block 2c, high nibbles 2c + 1.
        for (int j = 0; j < 8; ++j) {
          uint8_t* q = sb + kQ4KQuantsOff + static_cast<size_t>(j) * 256;
          for (int e = 0; e < 32; ++e) {
            const uint8_t byte = b.qs[32 * (j / 2) + e];
            const auto v = static_cast<uint8_t>(j % 2 == 0 ? byte & 0x0f : byte >> 4);
            const int kg = e / 4;  // k-group: 0..3 low nibbles, 4..7 high nibbles
            uint8_t& slot = q[(kg % 4) * 64 + n * 4 + e % 4];
            slot = static_cast<uint8_t>(kg < 4 ? (slot & 0xf0) | v : (slot & 0x0f) | (v << 4));
          }
        }
      }
    }
  }
}
// q5_K: q4_K's scales and mins, then per sub-block the fifth-bit plane and the nibbles.
void pack_q5_k_groups(const WeightView& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  SARATHI_CHECK(w.cols % core::kQK_K == 0, "cannot pack q5_K [{}, {}]", w.rows, w.cols);
  const int64_t ns = w.cols / core::kQK_K;
  const size_t gbytes = packed_group_bytes(DType::kQ5_K, w.cols);
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t g = g_begin; g < g_end; ++g) {
    uint8_t* group = dst + static_cast<size_t>(g) * gbytes;
    std::memset(group, 0, gbytes);
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < w.rows; ++n) {
      const auto* row = reinterpret_cast<const core::BlockQ5_K*>(
          src + static_cast<size_t>(g * kPackRows + n) * w.row_bytes);
      for (int64_t s = 0; s < ns; ++s) {
        const core::BlockQ5_K& b = row[s];
        uint8_t* sb = group + static_cast<size_t>(s) * kQ5KSuperBytes;
        std::memcpy(sb + 2 * n, &b.d, 2);
        std::memcpy(sb + 32 + 2 * n, &b.dmin, 2);
        uint8_t sc[8], m[8];
        ref::unpack_q4_k_scales(b.scales, sc, m);
        for (int j = 0; j < 8; ++j) {
          sb[kQ4KScalesOff + static_cast<size_t>(j) * 16 + static_cast<size_t>(n)] = sc[j];
          sb[kQ4KMinsOff + static_cast<size_t>(j / 2) * 32 + static_cast<size_t>(n) * 2 + static_cast<size_t>(j % 2)] = m[j];
        }
        uint8_t q[core::kQK_K];
        ref::decode_q5_k_quants(b, q);
        for (int j = 0; j < 8; ++j) {
          uint8_t* nib = sb + q5k_nibbles_off(j);
          uint8_t* high = sb + q5k_high_off(j);
          for (int e = 0; e < 32; ++e) {
            const uint8_t u = q[32 * j + e];
            const int kg = e / 4;  // k-group: 0..3 low nibbles, 4..7 high nibbles
            const size_t byte = static_cast<size_t>((kg % 4) * 64 + n * 4 + e % 4);
            nib[byte] = static_cast<uint8_t>(kg < 4 ? (nib[byte] & 0xf0) | (u & 0x0f)
                                                    : (nib[byte] & 0x0f) | ((u & 0x0f) << 4));
            high[n * 4 + e % 4] = static_cast<uint8_t>(high[n * 4 + e % 4] | ((u >> 4) << kg));
          }
        }
      }
    }
  }
}
// q6_K: scales, nibble planes and high-bit planes (kernels/packed.h).
void pack_q6_k_groups(const WeightView& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  SARATHI_CHECK(w.cols % core::kQK_K == 0, "cannot pack q6_K [{}, {}]", w.rows, w.cols);
  const int64_t ns = w.cols / core::kQK_K;
  const size_t gbytes = packed_group_bytes(DType::kQ6_K, w.cols);
  const auto* src = static_cast<const uint8_t*>(w.data);
  std::vector<float> deq(core::kQK_K);
  for (int64_t g = g_begin; g < g_end; ++g) {
    uint8_t* group = dst + static_cast<size_t>(g) * gbytes;
    std::memset(group, 0, gbytes);
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < w.rows; ++n) {
      const auto* row = reinterpret_cast<const core::BlockQ6_K*>(
          src + static_cast<size_t>(g * kPackRows + n) * w.row_bytes);
      for (int64_t s = 0; s < ns; ++s) {
        const core::BlockQ6_K& b = row[s];
        uint8_t* sb = group + static_cast<size_t>(s) * kQ6KSuperBytes;
        std::memcpy(sb + 2 * n, &b.d, 2);
        for (int gi = 0; gi < 16; ++gi)
          sb[kQ6KScalesOff + static_cast<size_t>(gi) * 16 + static_cast<size_t>(n)] =
              static_cast<uint8_t>(b.scales[gi]);
        int8_t q[core::kQK_K];
        ref::decode_q6_k_quants(b, q);
        for (int j = 0; j < 8; ++j) {
          uint8_t* nib = sb + q6k_nibbles_off(j);
          uint8_t* high = sb + q6k_high_off(j);
          for (int e = 0; e < 32; ++e) {
            const auto u = static_cast<uint8_t>(q[32 * j + e] + 32);
            const int kg = e / 4;
            const size_t byte = static_cast<size_t>((kg % 4) * 64 + n * 4 + e % 4);
            nib[byte] = static_cast<uint8_t>(kg < 4 ? (nib[byte] & 0xf0) | (u & 0x0f)
                                                    : (nib[byte] & 0x0f) | ((u & 0x0f) << 4));
            high[(kg / 4) * 64 + n * 4 + e % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (kg % 4)));
          }
        }
      }
    }
  }
}
}  // namespace

void pack_weight_groups(const WeightView& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  if (w.dtype == DType::kBF16) {
    pack_bf16_groups(w, g_begin, g_end, dst);
    return;
  }
  if (w.dtype == DType::kQ4_K) {
    pack_q4_k_groups(w, g_begin, g_end, dst);
    return;
  }
  if (w.dtype == DType::kQ5_K) {
    pack_q5_k_groups(w, g_begin, g_end, dst);
    return;
  }
  if (w.dtype == DType::kQ6_K) {
    pack_q6_k_groups(w, g_begin, g_end, dst);
    return;
  }
  SARATHI_CHECK(packable(w.dtype) && w.cols % kQK8_0 == 0, "cannot pack {} [{}, {}]",
                core::dtype_name(w.dtype), w.rows, w.cols);
  const int64_t nb = w.cols / kQK8_0;
  const size_t gbytes = packed_group_bytes(w.dtype, w.cols);
  const bool q8 = w.dtype == DType::kQ8_0;
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t g = g_begin; g < g_end; ++g) {
    uint8_t* group = dst + static_cast<size_t>(g) * gbytes;
    std::memset(group, 0, gbytes);
    for (int64_t n = 0; n < kPackRows; ++n) {
      const int64_t r = g * kPackRows + n;
      if (r >= w.rows) break;  // padding rows stay zero (scale 0)
      const uint8_t* row = src + static_cast<size_t>(r) * w.row_bytes;
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* q = group + packed_quants_offset(w.dtype, b);
        auto* scales = reinterpret_cast<uint16_t*>(group + packed_scales_offset(w.dtype, b));
        // Four consecutive quants of a row stay together (one k-group), so copy 4 bytes at a
        // time: q8_0 flipped to unsigned (x + 128 = x ^ 0x80), q4_0 bytes as they are (element
        // e < 16 is the low nibble of qs[e] and e + 16 the high one: k-groups e / 4, e / 4 + 4).
        if (q8) {
          const auto* blk = reinterpret_cast<const BlockQ8_0*>(row) + b;
          scales[n] = blk->d;
          for (int j = 0; j < 8; ++j) {
            uint32_t v = 0;
            std::memcpy(&v, blk->qs + 4 * j, 4);
            v ^= 0x80808080u;
            std::memcpy(q + j * 64 + n * 4, &v, 4);
          }
        } else {
          const auto* blk = reinterpret_cast<const BlockQ4_0*>(row) + b;
          scales[n] = blk->d;
          for (int j = 0; j < 4; ++j) std::memcpy(q + j * 64 + n * 4, blk->qs + 4 * j, 4);
        }
      }
    }
  }
}

WeightView pack_weight(const WeightView& w, AlignedBuffer& storage) {
  const int64_t groups = packed_groups(w.rows);
  storage = AlignedBuffer(static_cast<size_t>(groups) * packed_group_bytes(w.dtype, w.cols));
  if (storage.data() == nullptr) return w;
  pack_weight_groups(w, 0, groups, storage.data());
  WeightView p = w;
  p.data = storage.data();
  p.packed = true;
  return p;
}

void pack_x_ref(DType t, const float* src, void* dst, int64_t k) {
  if (t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K) {
    // q8_K quants and scales, then q4_K's (and q5_K's) int16 sums of 32 or q6_K's int32
    // -32 * sums of 16.
    const int64_t ns = k / core::kQK_K;
    auto* out = static_cast<uint8_t*>(dst);
    std::memset(out, 0, packed_x_bytes(t, k));
    auto* d = reinterpret_cast<float*>(out + ns * core::kQK_K);
    uint8_t* tail = out + ns * (core::kQK_K + 4);
    for (int64_t s = 0; s < ns; ++s) {
      core::BlockQ8_K blk;
      ref::from_float_q8_k(src + s * core::kQK_K, &blk, core::kQK_K);
      std::memcpy(out + s * core::kQK_K, blk.qs, core::kQK_K);
      d[s] = blk.d;
      if (t != DType::kQ6_K) {
        auto* sums = reinterpret_cast<int16_t*>(tail) + s * 8;
        for (int j = 0; j < 8; ++j) sums[j] = static_cast<int16_t>(blk.bsums[2 * j] + blk.bsums[2 * j + 1]);
      } else {
        auto* corr = reinterpret_cast<int32_t*>(tail) + s * 16;
        for (int gi = 0; gi < 16; ++gi) corr[gi] = -32 * int32_t{blk.bsums[gi]};
      }
    }
    return;
  }
  if (t == DType::kBF16) {
    auto* out = static_cast<uint16_t*>(dst);
    std::memset(out, 0, packed_x_bytes(t, k));
    ref::from_float_bf16(src, out, k);
    return;
  }
  const int64_t nb = k / kQK8_0;
  auto* out = static_cast<uint8_t*>(dst);
  std::memset(out, 0, packed_x_bytes(k));
  auto* d = reinterpret_cast<float*>(out + nb * kQK8_0);
  auto* corr = reinterpret_cast<int32_t*>(out + nb * (kQK8_0 + 4));
  const int32_t c = packed_offset(t);
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ8_0 blk;
    ref::from_float_q8_0(src + b * kQK8_0, &blk, kQK8_0);
    std::memcpy(out + b * kQK8_0, blk.qs, kQK8_0);
    d[b] = core::f16_to_f32(blk.d);
    int32_t sum = 0;
    for (int8_t q : blk.qs) sum += q;
    corr[b] = -c * sum;
  }
}

namespace {
void packed_gemm_ref_bf16(const PackedGemmArgs& a) {
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    const uint8_t* group = a.w + static_cast<size_t>(g) * a.group_bytes;
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < a.rows; ++n) {
      for (int64_t tok = a.tok_begin; tok < a.tok_end; ++tok) {
        const auto* xr = reinterpret_cast<const uint16_t*>(a.x + static_cast<size_t>(tok) * a.x_row_bytes);
        double acc = 0.0;
        for (int64_t e = 0; e < a.k; ++e) {
          uint16_t wv = 0;
          std::memcpy(&wv,
                      group + static_cast<size_t>(e / kPackBlock) * kPackedBf16BlockBytes +
                          static_cast<size_t>((e % kPackBlock) / 2) * 64 +
                          static_cast<size_t>(n) * 4 + static_cast<size_t>(e % 2) * 2,
                      2);
          acc += static_cast<double>(core::bf16_to_f32(wv)) * core::bf16_to_f32(xr[e]);
        }
        a.y[tok * a.ldy + g * kPackRows + n] = static_cast<float>(acc);
      }
    }
  }
}
}  // namespace

namespace {
// The q4_K arithmetic of kernels/packed.h, shared by the packed-layout kernel and the oracle.
float q4_k_super(float acc, const uint8_t* q, const uint8_t* sc, const uint8_t* m, uint16_t d,
                 uint16_t dmin, const int8_t* xq, float dx, const int16_t* xsum) {
  int32_t isum = 0, msum = 0;
  for (int j = 0; j < 8; ++j) {
    int32_t dot = 0;
    for (int e = 0; e < 32; ++e) dot += int32_t{q[32 * j + e]} * int32_t{xq[32 * j + e]};
    isum += int32_t{sc[j]} * dot;
    msum += int32_t{m[j]} * int32_t{xsum[j]};
  }
  acc = std::fma(static_cast<float>(msum), -(core::f16_to_f32(dmin) * dx), acc);
  return std::fma(static_cast<float>(isum), core::f16_to_f32(d) * dx, acc);
}

// The q6_K arithmetic of kernels/packed.h (q: -32..31, corr-free form).
float q6_k_super(float acc, const int8_t* q, const int8_t* sc, uint16_t d, const int8_t* xq,
                 float dx) {
  int32_t isum = 0;
  for (int gi = 0; gi < 16; ++gi) {
    int32_t dot = 0;
    for (int e = 0; e < 16; ++e) dot += int32_t{q[16 * gi + e]} * int32_t{xq[16 * gi + e]};
    isum += int32_t{sc[gi]} * dot;
  }
  return std::fma(static_cast<float>(isum), core::f16_to_f32(d) * dx, acc);
}

void packed_gemm_ref_q6_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / core::kQK_K;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    const uint8_t* group = a.w + static_cast<size_t>(g) * a.group_bytes;
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < a.rows; ++n) {
      for (int64_t tok = a.tok_begin; tok < a.tok_end; ++tok) {
        const uint8_t* xr = a.x + static_cast<size_t>(tok) * a.x_row_bytes;
        const auto* xq = reinterpret_cast<const int8_t*>(xr);
        const auto* xd = reinterpret_cast<const float*>(xr + ns * core::kQK_K);
        float acc = 0.0f;
        for (int64_t s = 0; s < ns; ++s) {
          const uint8_t* sb = group + static_cast<size_t>(s) * kQ6KSuperBytes;
          int8_t q[256], sc[16];
          for (int gi = 0; gi < 16; ++gi)
            sc[gi] = static_cast<int8_t>(sb[kQ6KScalesOff + static_cast<size_t>(gi) * 16 + static_cast<size_t>(n)]);
          for (int j = 0; j < 8; ++j) {
            const uint8_t* nib = sb + q6k_nibbles_off(j);
            const uint8_t* high = sb + q6k_high_off(j);
            for (int e = 0; e < 32; ++e) {
              const int kg = e / 4;
              const uint8_t byte = nib[(kg % 4) * 64 + n * 4 + e % 4];
              const int lo = kg < 4 ? byte & 0x0f : byte >> 4;
              const int hi = (high[(kg / 4) * 64 + n * 4 + e % 4] >> (2 * (kg % 4))) & 3;
              q[32 * j + e] = static_cast<int8_t>(lo + 16 * hi - 32);
            }
          }
          uint16_t d = 0;
          std::memcpy(&d, sb + 2 * n, 2);
          acc = q6_k_super(acc, q, sc, d, xq + s * core::kQK_K, xd[s]);
        }
        a.y[tok * a.ldy + g * kPackRows + n] = acc;
      }
    }
  }
}

void packed_gemm_ref_q5_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / core::kQK_K;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    const uint8_t* group = a.w + static_cast<size_t>(g) * a.group_bytes;
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < a.rows; ++n) {
      for (int64_t tok = a.tok_begin; tok < a.tok_end; ++tok) {
        const uint8_t* xr = a.x + static_cast<size_t>(tok) * a.x_row_bytes;
        const auto* xq = reinterpret_cast<const int8_t*>(xr);
        const auto* xd = reinterpret_cast<const float*>(xr + ns * core::kQK_K);
        const auto* xs = reinterpret_cast<const int16_t*>(xr + ns * (core::kQK_K + 4));
        float acc = 0.0f;
        for (int64_t s = 0; s < ns; ++s) {
          const uint8_t* sb = group + static_cast<size_t>(s) * kQ5KSuperBytes;
          uint8_t q[256], sc[8], m[8];
          for (int j = 0; j < 8; ++j) {
            sc[j] = sb[kQ4KScalesOff + static_cast<size_t>(j) * 16 + static_cast<size_t>(n)];
            m[j] = sb[kQ4KMinsOff + static_cast<size_t>(j / 2) * 32 + static_cast<size_t>(n) * 2 + static_cast<size_t>(j % 2)];
            const uint8_t* nib = sb + q5k_nibbles_off(j);
            const uint8_t* high = sb + q5k_high_off(j);
            for (int e = 0; e < 32; ++e) {
              const int kg = e / 4;
              const uint8_t byte = nib[(kg % 4) * 64 + n * 4 + e % 4];
              const int lo = kg < 4 ? byte & 0x0f : byte >> 4;
              const int hi = (high[n * 4 + e % 4] >> kg) & 1;
              q[32 * j + e] = static_cast<uint8_t>(lo | (hi << 4));
            }
          }
          uint16_t d = 0, dmin = 0;
          std::memcpy(&d, sb + 2 * n, 2);
          std::memcpy(&dmin, sb + 32 + 2 * n, 2);
          acc = q4_k_super(acc, q, sc, m, d, dmin, xq + s * core::kQK_K, xd[s], xs + s * 8);
        }
        a.y[tok * a.ldy + g * kPackRows + n] = acc;
      }
    }
  }
}

void packed_gemm_ref_q4_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / core::kQK_K;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    const uint8_t* group = a.w + static_cast<size_t>(g) * a.group_bytes;
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < a.rows; ++n) {
      for (int64_t tok = a.tok_begin; tok < a.tok_end; ++tok) {
        const uint8_t* xr = a.x + static_cast<size_t>(tok) * a.x_row_bytes;
        const auto* xq = reinterpret_cast<const int8_t*>(xr);
        const auto* xd = reinterpret_cast<const float*>(xr + ns * core::kQK_K);
        const auto* xs = reinterpret_cast<const int16_t*>(xr + ns * (core::kQK_K + 4));
        float acc = 0.0f;
        for (int64_t s = 0; s < ns; ++s) {
          const uint8_t* sb = group + static_cast<size_t>(s) * kQ4KSuperBytes;
          uint8_t q[256], sc[8], m[8];
          for (int j = 0; j < 8; ++j) {
            sc[j] = sb[kQ4KScalesOff + static_cast<size_t>(j) * 16 + static_cast<size_t>(n)];
            m[j] = sb[kQ4KMinsOff + static_cast<size_t>(j / 2) * 32 + static_cast<size_t>(n) * 2 + static_cast<size_t>(j % 2)];
            const uint8_t* qb = sb + kQ4KQuantsOff + static_cast<size_t>(j) * 256;
            for (int e = 0; e < 32; ++e) {
              const uint8_t byte = qb[((e / 4) % 4) * 64 + n * 4 + e % 4];
              q[32 * j + e] = static_cast<uint8_t>(e < 16 ? byte & 0x0f : byte >> 4);
            }
          }
          uint16_t d = 0, dmin = 0;
          std::memcpy(&d, sb + 2 * n, 2);
          std::memcpy(&dmin, sb + 32 + 2 * n, 2);
          acc = q4_k_super(acc, q, sc, m, d, dmin, xq + s * core::kQK_K, xd[s], xs + s * 8);
        }
        a.y[tok * a.ldy + g * kPackRows + n] = acc;
      }
    }
  }
}
}  // namespace

void packed_gemm_ref(const PackedGemmArgs& a) {
  if (a.dtype == DType::kBF16) {
    packed_gemm_ref_bf16(a);
    return;
  }
  if (a.dtype == DType::kQ4_K) {
    packed_gemm_ref_q4_k(a);
    return;
  }
  if (a.dtype == DType::kQ5_K) {
    packed_gemm_ref_q5_k(a);
    return;
  }
  if (a.dtype == DType::kQ6_K) {
    packed_gemm_ref_q6_k(a);
    return;
  }
  const int64_t nb = a.k / kQK8_0;
  const bool q8 = a.dtype == DType::kQ8_0;
  const DType t = a.dtype;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    const uint8_t* group = a.w + static_cast<size_t>(g) * a.group_bytes;
    for (int64_t n = 0; n < kPackRows && g * kPackRows + n < a.rows; ++n) {
      for (int64_t tok = a.tok_begin; tok < a.tok_end; ++tok) {
        const uint8_t* xr = a.x + static_cast<size_t>(tok) * a.x_row_bytes;
        const auto* xq = reinterpret_cast<const int8_t*>(xr);
        const auto* xd = reinterpret_cast<const float*>(xr + nb * kQK8_0);
        const auto* xc = reinterpret_cast<const int32_t*>(xr + nb * (kQK8_0 + 4));
        float acc = 0.0f;
        for (int64_t b = 0; b < nb; ++b) {
          const uint8_t* q = group + packed_quants_offset(t, b);
          const auto* scales = reinterpret_cast<const uint16_t*>(group + packed_scales_offset(t, b));
          int32_t isum = xc[b];
          for (int e = 0; e < kQK8_0; ++e) {
            int32_t u = 0;
            if (q8) {
              u = q[(e / 4) * 64 + n * 4 + e % 4];
            } else {
              const uint8_t byte = q[((e % 16) / 4) * 64 + n * 4 + e % 4];
              u = e < 16 ? (byte & 0x0f) : (byte >> 4);
            }
            isum += u * xq[b * kQK8_0 + e];
          }
          const float s = core::f16_to_f32(scales[n]) * xd[b];
          acc = std::fma(static_cast<float>(isum), s, acc);
        }
        a.y[tok * a.ldy + g * kPackRows + n] = acc;
      }
    }
  }
}

void packed_matmul_oracle(const WeightView& w, const float* x, int64_t m, float* y) {
  SARATHI_CHECK(packable(w.dtype) && !w.packed,
                "oracle needs a GGML-layout q8_0/q4_0/q4_K/q5_K/q6_K/bf16 matrix");
  if (w.dtype == DType::kQ6_K) {
    const int64_t ns = w.cols / core::kQK_K;
    std::vector<core::BlockQ8_K> xq(static_cast<size_t>(ns));
    const auto* src = static_cast<const uint8_t*>(w.data);
    for (int64_t t = 0; t < m; ++t) {
      ref::from_float_q8_k(x + t * w.cols, xq.data(), w.cols);
      for (int64_t r = 0; r < w.rows; ++r) {
        const auto* row = reinterpret_cast<const core::BlockQ6_K*>(src + static_cast<size_t>(r) * w.row_bytes);
        float acc = 0.0f;
        for (int64_t s = 0; s < ns; ++s) {
          int8_t q[256];
          ref::decode_q6_k_quants(row[s], q);
          acc = q6_k_super(acc, q, row[s].scales, row[s].d, xq[static_cast<size_t>(s)].qs,
                           xq[static_cast<size_t>(s)].d);
        }
        y[t * w.rows + r] = acc;
      }
    }
    return;
  }
  if (w.dtype == DType::kQ5_K) {  // q4_K's arithmetic over 5-bit quants
    const int64_t ns = w.cols / core::kQK_K;
    std::vector<core::BlockQ8_K> xq(static_cast<size_t>(ns));
    const auto* src = static_cast<const uint8_t*>(w.data);
    for (int64_t t = 0; t < m; ++t) {
      ref::from_float_q8_k(x + t * w.cols, xq.data(), w.cols);
      for (int64_t r = 0; r < w.rows; ++r) {
        const auto* row = reinterpret_cast<const core::BlockQ5_K*>(src + static_cast<size_t>(r) * w.row_bytes);
        float acc = 0.0f;
        for (int64_t s = 0; s < ns; ++s) {
          const core::BlockQ5_K& b = row[s];
          const core::BlockQ8_K& xb = xq[static_cast<size_t>(s)];
          uint8_t q[256], sc[8], mn[8];
          ref::unpack_q4_k_scales(b.scales, sc, mn);
          ref::decode_q5_k_quants(b, q);
          int16_t sums[8];
          for (int j = 0; j < 8; ++j) sums[j] = static_cast<int16_t>(xb.bsums[2 * j] + xb.bsums[2 * j + 1]);
          acc = q4_k_super(acc, q, sc, mn, b.d, b.dmin, xb.qs, xb.d, sums);
        }
        y[t * w.rows + r] = acc;
      }
    }
    return;
  }
  if (w.dtype == DType::kQ4_K) {
    const int64_t ns = w.cols / core::kQK_K;
    std::vector<core::BlockQ8_K> xq(static_cast<size_t>(ns));
    const auto* src = static_cast<const uint8_t*>(w.data);
    for (int64_t t = 0; t < m; ++t) {
      ref::from_float_q8_k(x + t * w.cols, xq.data(), w.cols);
      for (int64_t r = 0; r < w.rows; ++r) {
        const auto* row = reinterpret_cast<const core::BlockQ4_K*>(src + static_cast<size_t>(r) * w.row_bytes);
        float acc = 0.0f;
        for (int64_t s = 0; s < ns; ++s) {
          const core::BlockQ4_K& b = row[s];
          const core::BlockQ8_K& xb = xq[static_cast<size_t>(s)];
          uint8_t q[256], sc[8], mn[8];
          ref::unpack_q4_k_scales(b.scales, sc, mn);
          for (int c = 0; c < 4; ++c)
            for (int e = 0; e < 32; ++e) {
              q[64 * c + e] = b.qs[32 * c + e] & 0x0f;
              q[64 * c + 32 + e] = b.qs[32 * c + e] >> 4;
            }
          int16_t sums[8];
          for (int j = 0; j < 8; ++j) sums[j] = static_cast<int16_t>(xb.bsums[2 * j] + xb.bsums[2 * j + 1]);
          acc = q4_k_super(acc, q, sc, mn, b.d, b.dmin, xb.qs, xb.d, sums);
        }
        y[t * w.rows + r] = acc;
      }
    }
    return;
  }
  if (w.dtype == DType::kBF16) {
    std::vector<uint16_t> xb(static_cast<size_t>(w.cols));
    const auto* src = static_cast<const uint8_t*>(w.data);
    for (int64_t t = 0; t < m; ++t) {
      ref::from_float_bf16(x + t * w.cols, xb.data(), w.cols);
      for (int64_t r = 0; r < w.rows; ++r) {
        const auto* row = reinterpret_cast<const uint16_t*>(src + static_cast<size_t>(r) * w.row_bytes);
        double acc = 0.0;
        for (int64_t e = 0; e < w.cols; ++e)
          acc += static_cast<double>(core::bf16_to_f32(row[e])) * core::bf16_to_f32(xb[static_cast<size_t>(e)]);
        y[t * w.rows + r] = static_cast<float>(acc);
      }
    }
    return;
  }
  const int64_t nb = w.cols / kQK8_0;
  std::vector<BlockQ8_0> xq(static_cast<size_t>(nb));
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t t = 0; t < m; ++t) {
    ref::from_float_q8_0(x + t * w.cols, xq.data(), w.cols);
    for (int64_t r = 0; r < w.rows; ++r) {
      const uint8_t* row = src + static_cast<size_t>(r) * w.row_bytes;
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        const BlockQ8_0& xb = xq[static_cast<size_t>(b)];
        int32_t isum = 0;
        uint16_t dw = 0;
        if (w.dtype == DType::kQ8_0) {
          const auto* blk = reinterpret_cast<const BlockQ8_0*>(row) + b;
          dw = blk->d;
          for (int e = 0; e < kQK8_0; ++e) isum += blk->qs[e] * xb.qs[e];
        } else {
          const auto* blk = reinterpret_cast<const BlockQ4_0*>(row) + b;
          dw = blk->d;
          for (int e = 0; e < 16; ++e) {
            isum += ((blk->qs[e] & 0x0f) - 8) * xb.qs[e];
            isum += ((blk->qs[e] >> 4) - 8) * xb.qs[e + 16];
          }
        }
        const float s = core::f16_to_f32(dw) * core::f16_to_f32(xb.d);
        acc = std::fma(static_cast<float>(isum), s, acc);
      }
      y[t * w.rows + r] = acc;
    }
  }
}

}  // namespace sarathi::kernels
