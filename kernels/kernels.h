// kernels/kernels.h: the CPU op table. Every op has a scalar oracle (kernels/ref) and SIMD
// versions (kernels/cpu/<isa>), picked once at run time from cpuid or SARATHI_ISA.
// Depends on core/ only.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/dtype.h"

namespace sarathi::kernels {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };

std::string_view isa_name(Isa isa);
/// True if this CPU (and OS) can run code of the given ISA level.
bool isa_supported(Isa isa);
/// The best level this CPU supports.
Isa detect_isa();
/// detect_isa(), or SARATHI_ISA=scalar|avx2|avx512|amx if set (an unsupported or unknown value
/// falls back to the best supported level below it, with a warning on stderr).
Isa active_isa();
/// Parses a SARATHI_ISA value: "scalar" (or "ref"), "avx2", "avx512", "amx", any case;
/// nullopt if unknown.
std::optional<Isa> isa_from_name(std::string_view name);
/// What active_isa() picks for a SARATHI_ISA value (null or empty: detect_isa()). An unknown
/// value gives detect_isa(), an unsupported one the best supported level below it; both print
/// one warning line on stderr. active_isa() is this applied once to getenv("SARATHI_ISA").
Isa resolve_isa(const char* requested);

/// Dequantizes n elements (n a multiple of the type's block size) to f32.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
/// Quantizes / converts n f32 values (n a multiple of the block size) into the type.
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);
/// Dot product of n elements: w is a row of the weight type, x a row of its vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

/// What one tensor element type can do. As in GGML, a weight row is multiplied with an
/// activation row first converted to vec_dot_type (f16 for f16 weights, q8_0 for q4_0/q8_0,
/// q8_K for the K-quants), so integer units do the inner products.
struct TypeOps {
  core::DType vec_dot_type = core::DType::kF32;
  ToFloatFn to_float = nullptr;
  FromFloatFn from_float = nullptr;
  VecDotFn vec_dot = nullptr;  // null for kQ8_K (activation-only type)
};

struct CpuOps {
  Isa isa = Isa::kScalar;
  TypeOps f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, q8_k;

  /// Ops for a type; every core::DType has an entry.
  const TypeOps& type(core::DType t) const;
};

/// The op table for active_isa(), chosen once (thread-safe).
const CpuOps& cpu_ops();
/// The op table for a specific level; the level must be supported (tests use this).
const CpuOps& cpu_ops_for(Isa isa);

}  // namespace sarathi::kernels
