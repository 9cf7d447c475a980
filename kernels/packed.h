// kernels/packed.h: the interleaved ("packed") weight layouts: q8_0, q4_0, q4_K and q6_K for the
// AVX-512 VNNI kernels (q8_0 / q4_0 also for AMX-INT8), bf16 for the AMX-BF16 kernel; their
// packing, and the scalar oracles of their arithmetic.
//
// Weight rows are taken 16 at a time (a group; the last one zero-padded). For each 32-element
// block b of a group, the quants of the 16 rows are stored in the VNNI order that vpdpbusd and
// an AMX B tile read directly: for k-group j (elements 4j..4j+3 of the block), row n's four
// quants sit at bytes j*64 + n*4 .. +3, as unsigned values u = w + c (c = 128 for q8_0, so 512
// bytes per block; for q4_0, c = 8 and two k-groups share a byte: k-group j (j < 4) in the low
// nibbles at byte j*64 + n*4 + i, k-group j + 4 in the high nibbles, 256 bytes per block). Blocks
// go in pairs, so that one sequential stream carries everything: 64 bytes of f16 scales (16 rows
// of block 2p, then 16 of block 2p + 1), then the quants of block 2p and of block 2p + 1 (an odd
// last block leaves its partner's scales zero and has no partner quants).
//
// Activations are packed per token: int8 qs[nb*32] (q8_0 quantization, bit-equal to
// from_float_q8_0), f32 d[nb] (the f16 block scales, widened), int32 corr[nb] = -c * sum(qs of
// the block), padded to 64 bytes.
// Every packed activation row (this one and those below) is padded to an odd number of 64-byte
// lines, so that the rows of a tile do not share an L1 set.
//
// The arithmetic every kernel follows for output (row n, token t):
//   acc = 0; for each block b: isum = corr[b] + sum_k u[n][k] * x[k]   (exact int32,
//                                    = sum_k w[n][k] * x[k])
//                              acc = fma(float(isum), dw[n][b] * dx[b], acc)
//
// q4_K: the same 16-row groups, per 256-element super-block kQ4KSuperBytes bytes: f16 d[16],
// f16 dmin[16], the 6-bit sub-block scales sc[8][16] (sub-block j, row n) and mins as byte
// pairs m[4][16][2] (sub-blocks 2p and 2p + 1 of row n side by side, for vpdpwssd), then the
// 8 sub-blocks' quants (0..15) in q4_0's nibble order, 256 bytes each. Activations are q8_K
// (bit-equal to from_float_q8_k): int8 qs[k], f32 d[k/256], int16 sums of each 32 quants
// [k/32], padded to 64 bytes. Per output and super-block:
//   dot_j = sum_e q[32j + e] * x[32j + e]; isum = sum_j sc_j * dot_j; msum = sum_j m_j * xsum_j
//   (exact int32), then acc = fma(float(msum), -(dmin * dx), acc),
//                       acc = fma(float(isum), d * dx, acc).
//
// q5_K: q4_K's header (d, dmin, sc and m at the same offsets), then per sub-block j 64 bytes of
// fifth bits (byte i holds in bit c the fifth bit of the byte-i quant of k-group c, c < 8)
// followed by the low nibbles in q4_0's order (256 bytes), kQ5KSuperBytes per super-block. The
// quants are 0..31; activations and arithmetic are q4_K's.
//
// q6_K: per super-block kQ6KSuperBytes (GGML's 16 x 210): f16 d[16], int8 scales sc[16][16]
// (16-element group g, row n), then per sub-block j the high two bits of u = q + 32 (128 bytes:
// byte i of the first 64 holds, in bits 2c..2c+1, the high bits of the byte-i quant of k-group
// c (c < 4), the second 64 those of k-groups 4..7) followed by the low nibbles in q4_0's order
// (256 bytes). Activations are q8_K: int8 qs[k], f32 d[k/256], int32
// corr[k/16] = -32 * (sum of each 16 quants), padded to 64 bytes. Per output and super-block:
//   isum = sum_g sc_g * (corr_g + sum_{e in g} u_e * x_e)   (exact int32, = sum sc q x)
//   acc = fma(float(isum), d * dx, acc).
//
// bf16: the same 16-row groups, k zero-padded to a multiple of 32, 1024 bytes per 32-element
// block: pair j (elements 2j, 2j + 1 of the block) of row n at bytes j*64 + n*4 .. +3, i.e. an
// AMX B tile for TDPBF16PS (16 pair rows x 16 weight rows x 2 bf16). Activations are bf16
// rows (round to nearest even, as from_float_bf16), zero-padded to a multiple of 32. Every
// product of two bf16 values is exact in f32; kernels differ only in how they round the f32
// sums (the tile unit adds pairs in its own order), so the oracle sums in double and kernels
// are checked against it within a bound on f32 rounding, and each kernel computes an output
// the same way wherever it sits in a batch.
// Depends on core/ and kernels.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/big_buffer.h"
#include "core/dtype.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"

namespace sarathi::kernels {

inline constexpr int64_t kPackRows = 16;

/// The weight types that have an interleaved layout.
inline constexpr core::DType kPackableTypes[] = {core::DType::kQ8_0, core::DType::kQ4_0,
                                                 core::DType::kQ4_K, core::DType::kQ5_K,
                                                 core::DType::kQ6_K, core::DType::kBF16};
/// True for the types in kPackableTypes.
bool packable(core::DType t);
/// Elements per block of the layout (32 for all three types).
inline constexpr int64_t kPackBlock = 32;
/// Bytes of one 32-element block of a bf16 group (16 rows x 32 x 2 bytes).
inline constexpr size_t kPackedBf16BlockBytes = 1024;
/// Bytes of one 256-element q4_K super-block of a group, and the offsets inside it.
inline constexpr size_t kQ4KSuperBytes = 2368;
inline constexpr size_t kQ4KScalesOff = 64;
inline constexpr size_t kQ4KMinsOff = 192;
inline constexpr size_t kQ4KQuantsOff = 320;
inline constexpr size_t kQ5KSuperBytes = 2880;
/// Sub-block j of a q5_K super-block: 64 bytes of fifth bits, then 256 of low nibbles.
inline constexpr size_t q5k_high_off(int j) { return 320 + static_cast<size_t>(j) * 320; }
inline constexpr size_t q5k_nibbles_off(int j) { return q5k_high_off(j) + 64; }
inline constexpr size_t kQ6KSuperBytes = 3360;
inline constexpr size_t kQ6KScalesOff = 32;
/// Sub-block j of a q6_K super-block: 128 bytes of high bits, then 256 of low nibbles (one
/// sequential stream).
inline constexpr size_t q6k_high_off(int j) { return 288 + static_cast<size_t>(j) * 384; }
inline constexpr size_t q6k_nibbles_off(int j) { return q6k_high_off(j) + 128; }
/// The unsigned offset c of the packed quants (128 for q8_0, 8 for q4_0).
int32_t packed_offset(core::DType t);
/// Bytes of one block's quants for 16 rows (512 or 256).
size_t packed_block_quant_bytes(core::DType t);
/// Groups of 16 rows covering `rows`.
inline int64_t packed_groups(int64_t rows) { return (rows + kPackRows - 1) / kPackRows; }
/// Bytes of one pair of blocks (scales and quants).
inline size_t packed_pair_bytes(core::DType t) { return 64 + 2 * packed_block_quant_bytes(t); }
/// Offsets of block b's quants and scales from its group's start.
inline size_t packed_quants_offset(core::DType t, int64_t b) {
  return static_cast<size_t>(b / 2) * packed_pair_bytes(t) + 64 +
         static_cast<size_t>(b % 2) * packed_block_quant_bytes(t);
}
inline size_t packed_scales_offset(core::DType t, int64_t b) {
  return static_cast<size_t>(b / 2) * packed_pair_bytes(t) + static_cast<size_t>(b % 2) * 32;
}
/// Bytes of one group for k inputs.
size_t packed_group_bytes(core::DType t, int64_t k);
/// Bytes of one packed activation row of k elements for q8_0 / q4_0 weights.
size_t packed_x_bytes(int64_t k);
/// Bytes of one packed activation row of k elements for weights of type t.
size_t packed_x_bytes(core::DType t, int64_t k);

/// Packs groups [g_begin, g_end) of the GGML-layout matrix w (q8_0 or q4_0 with cols a multiple
/// of 32, q4_K / q5_K / q6_K with cols a multiple of 256, or bf16 of any width) into dst, a buffer of packed_groups(rows) * packed_group_bytes bytes.
void pack_weight_groups(const WeightView& w, int64_t g_begin, int64_t g_end, uint8_t* dst);

/// Packed weights live in page-aligned buffers mapped from the OS.
using AlignedBuffer = core::BigBuffer;

/// Packs the whole matrix single-threaded: a view with packed = true over `storage`, or `w`
/// itself (GGML layout, still multipliable) if the buffer cannot be allocated.
WeightView pack_weight(const WeightView& w, AlignedBuffer& storage);

/// Scalar packing of one activation row for weights of type t (the oracle of pack_x).
void pack_x_ref(core::DType t, const float* src, void* dst, int64_t k);
/// Scalar run over the packed layout (the oracle of PackedGemmOps::run; for bf16, sums in
/// double).
void packed_gemm_ref(const PackedGemmArgs& args);
/// The same arithmetic straight from the GGML layout and f32 activations (independent of the
/// packing code): y[m][rows].
void packed_matmul_oracle(const WeightView& w, const float* x, int64_t m, float* y);

}  // namespace sarathi::kernels
