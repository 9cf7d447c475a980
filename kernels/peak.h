// kernels/peak.h: register-only loops of the instructions the matmul paths are built on (f32
// FMA, VNNI int8 dot products, AVX512-BF16 dot products, AMX tile products), so `bench
// roofline` can report the machine's ceilings next to what the kernels reach. Declarations
// only: the loops live in the ISA folders.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace sarathi::kernels {

enum class PeakOp {
  kFmaYmm,   // vfmadd231ps ymm (AVX2 + FMA)
  kFmaZmm,   // vfmadd231ps zmm (AVX-512)
  kVnniZmm,  // vpdpbusd zmm (AVX512-VNNI)
  kBf16Zmm,  // vdpbf16ps zmm (AVX512-BF16)
  kAmxBf16,  // TDPBF16PS
  kAmxInt8,  // TDPBUSD
};

/// The loops this CPU (and OS) can run, in the order above.
std::vector<PeakOp> peak_ops_supported();
std::string_view peak_op_name(PeakOp op);
/// Runs `iters` iterations of op's loop on the calling thread; returns the operations done
/// (2 per multiply-add).
double peak_loop(PeakOp op, int64_t iters);

}  // namespace sarathi::kernels
