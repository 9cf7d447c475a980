// Run-time ISA detection (cpuid + xgetbv, and the Linux AMX permission request), SARATHI_ISA
// parsing, and the per-ISA CpuOps tables. Baseline code: it only takes the addresses of the
// ISA-specific functions, it never runs them unless the CPU supports them.
#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/check.h"
#include "kernels/cpu/amx/packed_gemm.h"
#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/cpu/avx512/attention.h"
#include "kernels/cpu/avx512/elementwise.h"
#include "kernels/cpu/avx512/gemm.h"
#include "kernels/cpu/avx512/type_ops.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"
#include "kernels/ref/type_ops.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SARATHI_X86 1
#endif
#if defined(SARATHI_X86) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace sarathi::kernels {
namespace {

using core::DType;

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C, with the OS saving YMM state
  bool avx512 = false;  // AVX512 F/BW/VL/DQ + VNNI, with the OS saving ZMM and opmask state
  bool avx512_bf16 = false;
  bool amx = false;  // AMX TILE/BF16/INT8, OS tile state and permission granted
  bool intel = false;  // vendor GenuineIntel
};

#ifdef SARATHI_X86
bool bit(uint32_t reg, int b) { return ((reg >> b) & 1u) != 0; }

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

// Linux keeps AMX tile data off until a process asks (ARCH_REQ_XCOMP_PERM, XTILEDATA = 18).
bool request_amx_permission() {
#ifdef __linux__
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuFeatures probe_features() {
  CpuFeatures f;
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(0, 0, eax, ebx, ecx, edx);
  f.intel = ebx == 0x756e6547 && edx == 0x49656e69 && ecx == 0x6c65746e;  // "GenuineIntel"
  __cpuid_count(1, 0, eax, ebx, ecx, edx);
  const bool fma = bit(ecx, 12), osxsave = bit(ecx, 27), avx = bit(ecx, 28), f16c = bit(ecx, 29);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;                 // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;         // XTILECFG and XTILEDATA
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const uint32_t ebx7 = ebx, ecx7 = ecx, edx7 = edx;
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  const uint32_t eax71 = eax;

  f.avx2 = os_avx && fma && f16c && bit(ebx7, 5);
  f.avx512 = f.avx2 && os_avx512 && bit(ebx7, 16) /*F*/ && bit(ebx7, 17) /*DQ*/ &&
             bit(ebx7, 30) /*BW*/ && bit(ebx7, 31) /*VL*/ && bit(ecx7, 11) /*VNNI*/;
  f.avx512_bf16 = f.avx512 && bit(eax71, 5);
  f.amx = f.avx512 && os_amx && bit(edx7, 24) /*TILE*/ && bit(edx7, 22) /*BF16*/ &&
          bit(edx7, 25) /*INT8*/ && request_amx_permission();
  return f;
}
#else
CpuFeatures probe_features() { return {}; }
#endif

const CpuFeatures& features() {
  static const CpuFeatures f = probe_features();
  return f;
}

// Decode over interleaved weights on AVX-512: two weight streams per thread with software
// prefetch, or one sequential stream. tinyllama-1.1b Q4_K_M, one-sequence decode step, 2 threads:
// on a Xeon (AMX) one stream read 0.48 of the read floor (42.9-48.3 ms), two streams with
// prefetch 37.7-39.0 ms; on Zen 4 a second stream cost 15% and prefetch only lost. So Intel
// pairs, others stream; SARATHI_DECODE_STREAMS=1|2 overrides (for A/B runs).
bool decode_stream_pairs() {
  const char* v = std::getenv("SARATHI_DECODE_STREAMS");
  if (v != nullptr && std::strcmp(v, "1") == 0) return false;
  if (v != nullptr && std::strcmp(v, "2") == 0) return true;
  return features().intel;
}

// SARATHI_REPACK=0 keeps q8_0 / q4_0 weights in the GGML layout (their GemmOps path), for A/B
// measurements and as a way around a problem in the interleaved kernels.
bool repack_enabled() {
  const char* v = std::getenv("SARATHI_REPACK");
  return v == nullptr || std::string(v) != "0";
}

CpuOps make_ref_ops() {
  CpuOps o;
  o.isa = Isa::kScalar;
  o.f32 = {DType::kF32, ref::to_float_f32, ref::from_float_f32, ref::vec_dot_f32};
  o.f16 = {DType::kF16, ref::to_float_f16, ref::from_float_f16, ref::vec_dot_f16};
  o.bf16 = {DType::kBF16, ref::to_float_bf16, ref::from_float_bf16, ref::vec_dot_bf16};
  o.q8_0 = {DType::kQ8_0, ref::to_float_q8_0, ref::from_float_q8_0, ref::vec_dot_q8_0};
  o.q4_0 = {DType::kQ8_0, ref::to_float_q4_0, ref::from_float_q4_0, ref::vec_dot_q4_0};
  o.q4_k = {DType::kQ8_K, ref::to_float_q4_k, ref::from_float_q4_k, ref::vec_dot_q4_k};
  o.q6_k = {DType::kQ8_K, ref::to_float_q6_k, ref::from_float_q6_k, ref::vec_dot_q6_k};
  o.q8_k = {DType::kQ8_K, ref::to_float_q8_k, ref::from_float_q8_k, nullptr};
  o.q4_1 = {DType::kQ8_0, ref::to_float_q4_1, ref::from_float_q4_1, ref::vec_dot_q4_1};
  o.q5_0 = {DType::kQ8_0, ref::to_float_q5_0, ref::from_float_q5_0, ref::vec_dot_q5_0};
  o.q5_1 = {DType::kQ8_0, ref::to_float_q5_1, ref::from_float_q5_1, ref::vec_dot_q5_1};
  o.q2_k = {DType::kQ8_K, ref::to_float_q2_k, ref::from_float_q2_k, ref::vec_dot_q2_k};
  o.q3_k = {DType::kQ8_K, ref::to_float_q3_k, ref::from_float_q3_k, ref::vec_dot_q3_k};
  o.q5_k = {DType::kQ8_K, ref::to_float_q5_k, ref::from_float_q5_k, ref::vec_dot_q5_k};
  o.iq4_nl = {DType::kQ8_0, ref::to_float_iq4_nl, ref::from_float_iq4_nl, ref::vec_dot_iq4_nl};
  o.iq4_xs = {DType::kQ8_K, ref::to_float_iq4_xs, ref::from_float_iq4_xs, ref::vec_dot_iq4_xs};
  return o;
}

// The AVX2 row dot products of the types that have no AVX-512 version (both tables use them).
void set_avx2_row_dots(CpuOps& o) {
  o.q5_k.vec_dot = avx2::vec_dot_q5_k;
  o.q4_1.vec_dot = avx2::vec_dot_q4_1;
  o.q5_0.vec_dot = avx2::vec_dot_q5_0;
  o.q5_1.vec_dot = avx2::vec_dot_q5_1;
  o.iq4_nl.vec_dot = avx2::vec_dot_iq4_nl;
  o.q2_k.vec_dot = avx2::vec_dot_q2_k;
  o.q3_k.vec_dot = avx2::vec_dot_q3_k;
  o.iq4_xs.vec_dot = avx2::vec_dot_iq4_xs;
}

// Anything without a SIMD version keeps the ref function.
CpuOps make_avx2_ops() {
  CpuOps o = make_ref_ops();
  o.isa = Isa::kAvx2;
  o.f32.vec_dot = avx2::vec_dot_f32;
  o.f16 = {DType::kF16, avx2::to_float_f16, avx2::from_float_f16, avx2::vec_dot_f16};
  o.bf16 = {DType::kBF16, avx2::to_float_bf16, avx2::from_float_bf16, avx2::vec_dot_bf16};
  o.q8_0 = {DType::kQ8_0, avx2::to_float_q8_0, avx2::from_float_q8_0, avx2::vec_dot_q8_0};
  o.q4_0.to_float = avx2::to_float_q4_0;
  o.q4_0.vec_dot = avx2::vec_dot_q4_0;
  o.q4_k.vec_dot = avx2::vec_dot_q4_k;
  o.q6_k.vec_dot = avx2::vec_dot_q6_k;
  set_avx2_row_dots(o);
  o.q8_k.from_float = avx2::from_float_q8_k;
  if (repack_enabled()) {
    o.q8_0.packed = {avx2::pack_x_packed_q8_0, avx2::packed_gemm_q8_0};
    o.q4_0.packed = {avx2::pack_x_packed_q4_0, avx2::packed_gemm_q4_0};
    o.q4_k.packed = {avx2::pack_x_packed_q4_k, avx2::packed_gemm_q4_k};
    o.q5_k.packed = {avx2::pack_x_packed_q5_k, avx2::packed_gemm_q5_k};
    o.q6_k.packed = {avx2::pack_x_packed_q6_k, avx2::packed_gemm_q6_k};
    o.bf16.packed = {avx2::pack_x_packed_bf16, avx2::packed_gemm_bf16};
  }
  o.attend = avx2::attend_group;
  o.attend_masked = avx2::attend_group;
  o.gelu = avx2::gelu_mul;
  o.swiglu = avx2::swiglu;
  o.rms_norm = avx2::rms_norm;
  return o;
}

CpuOps make_avx512_ops() {
  CpuOps o = make_ref_ops();
  o.isa = Isa::kAvx512;
  o.f32.vec_dot = avx512::vec_dot_f32;
  o.f16 = {DType::kF16, avx512::to_float_f16, avx512::from_float_f16, avx512::vec_dot_f16};
  o.bf16 = {DType::kBF16, avx512::to_float_bf16, avx512::from_float_bf16,
            features().avx512_bf16 ? avx512::vec_dot_bf16 : avx2::vec_dot_bf16};
  o.q8_0 = {DType::kQ8_0, avx512::to_float_q8_0, avx512::from_float_q8_0, avx512::vec_dot_q8_0};
  o.q4_0.to_float = avx512::to_float_q4_0;
  o.q4_0.vec_dot = avx512::vec_dot_q4_0;
  o.q4_k.vec_dot = avx512::vec_dot_q4_k;
  o.q6_k.vec_dot = avx512::vec_dot_q6_k;
  set_avx2_row_dots(o);  // no AVX-512 versions: AVX2 runs on every AVX-512 CPU
  o.q8_k.from_float = avx512::from_float_q8_k;
  o.f32.gemm = {avx512::packed_x_bytes_f32, avx512::pack_x_f32, avx512::gemm_f32};
  o.f16.gemm = {avx512::packed_x_bytes_f16, avx512::pack_x_f16, avx512::gemm_f16};
  if (features().avx512_bf16)
    o.bf16.gemm = {avx512::packed_x_bytes_bf16, avx512::pack_x_bf16, avx512::gemm_bf16};
  o.q8_0.gemm = {avx512::packed_x_bytes_q8, avx512::pack_x_q8_for_q8_0, avx512::gemm_q8_0};
  o.q4_0.gemm = {avx512::packed_x_bytes_q8, avx512::pack_x_q8_for_q4_0, avx512::gemm_q4_0};
  o.q6_k.gemm = {avx512::packed_x_bytes_q8_k, avx512::pack_x_q8_k_for_q6_k, avx512::gemm_q6_k};
  if (repack_enabled()) {
    o.q8_0.packed = {avx512::pack_x_packed_q8_0, avx512::packed_gemm_q8_0};
    o.q4_0.packed = {avx512::pack_x_packed_q4_0, avx512::packed_gemm_q4_0};
    o.q4_k.packed = {avx512::pack_x_packed_q4_k, avx512::packed_gemm_q4_k};
    o.q5_k.packed = {avx512::pack_x_packed_q5_k, avx512::packed_gemm_q5_k};
    o.q6_k.packed = {avx512::pack_x_packed_q6_k, avx512::packed_gemm_q6_k};
    for (TypeOps* t : {&o.q8_0, &o.q4_0, &o.q4_k, &o.q5_k, &o.q6_k})
      t->packed.stream_pairs = decode_stream_pairs();
    // bf16: vdpbf16ps over the interleaved layout, every token count (one-token steps included,
    // so outputs do not depend on the batch); the AMX level replaces it with the tile kernel.
    // Without AVX512-BF16 the AVX2 FMA kernel over the same layout.
    o.bf16.packed = features().avx512_bf16
                        ? PackedGemmOps{avx512::pack_x_packed_bf16, avx512::packed_gemm_bf16}
                        : PackedGemmOps{avx2::pack_x_packed_bf16, avx2::packed_gemm_bf16};
  }
  o.attend = avx512::attend_group;
  o.attend_masked = avx2::attend_group;  // windows and caps: the AVX2 kernel
  o.gelu = avx2::gelu_mul;
  o.swiglu = avx512::swiglu;
  o.rms_norm = avx512::rms_norm;
  return o;
}

// AMX: the tile kernels for q8_0 / q4_0 are bit-equal to VNNI but, with one TDPBSUD and an
// AVX-512 scaling pass per 32-element block, measured no faster on Sapphire Rapids at 2 threads
// (prefill of 512 tokens 2956-3252 ms vs 2733-3185 ms; a three-deep pipeline and an exact
// integer variant on the bf16 unit did no better, docs/PERFORMANCE.md), so the AMX level runs
// the VNNI kernels unless SARATHI_AMX_TILES=1.
bool amx_tiles_enabled() {
  const char* v = std::getenv("SARATHI_AMX_TILES");
  return v != nullptr && std::string(v) == "1";
}

CpuOps make_amx_ops() {
  CpuOps o = make_avx512_ops();
  o.isa = Isa::kAmx;
  // bf16 weights: TDPBF16PS needs no scaling pass, so the tile unit runs every bf16 matmul
  // (one-token steps included, which keeps outputs independent of the batch).
  if (repack_enabled()) o.bf16.packed = {avx512::pack_x_packed_bf16, amx::packed_gemm_bf16};
  if (repack_enabled() && amx_tiles_enabled()) {
    o.q8_0.packed.run = amx::packed_gemm_q8_0;
    o.q4_0.packed.run = amx::packed_gemm_q4_0;
  }
  return o;
}

Isa best_supported_at_or_below(Isa isa) {
  for (int level = static_cast<int>(isa); level > 0; --level) {
    if (isa_supported(static_cast<Isa>(level))) return static_cast<Isa>(level);
  }
  return Isa::kScalar;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAmx:
      return "amx";
  }
  return "unknown";
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return features().avx2;
    case Isa::kAvx512:
      return features().avx512;
    case Isa::kAmx:
      return features().amx;
  }
  return false;
}

Isa detect_isa() { return best_supported_at_or_below(Isa::kAmx); }

std::optional<Isa> isa_from_name(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "scalar" || lower == "ref") return Isa::kScalar;
  if (lower == "avx2") return Isa::kAvx2;
  if (lower == "avx512") return Isa::kAvx512;
  if (lower == "amx") return Isa::kAmx;
  return std::nullopt;
}

Isa resolve_isa(const char* requested) {
  if (requested == nullptr || *requested == '\0') return detect_isa();
  const std::optional<Isa> isa = isa_from_name(requested);
  if (!isa) {
    const Isa best = detect_isa();
    fmt::print(stderr,
               "sarathi: unknown SARATHI_ISA='{}' (expected scalar|avx2|avx512|amx); using {}\n",
               requested, isa_name(best));
    return best;
  }
  if (isa_supported(*isa)) return *isa;
  const Isa fallback = best_supported_at_or_below(*isa);
  fmt::print(stderr, "sarathi: SARATHI_ISA={} is not supported by this CPU; using {}\n",
             isa_name(*isa), isa_name(fallback));
  return fallback;
}

Isa active_isa() {
  static const Isa isa = resolve_isa(std::getenv("SARATHI_ISA"));
  return isa;
}

const TypeOps& CpuOps::type(DType t) const {
  switch (t) {
    case DType::kF32:
      return f32;
    case DType::kF16:
      return f16;
    case DType::kBF16:
      return bf16;
    case DType::kQ8_0:
      return q8_0;
    case DType::kQ4_0:
      return q4_0;
    case DType::kQ4_K:
      return q4_k;
    case DType::kQ6_K:
      return q6_k;
    case DType::kQ8_K:
      return q8_k;
    case DType::kQ4_1:
      return q4_1;
    case DType::kQ5_0:
      return q5_0;
    case DType::kQ5_1:
      return q5_1;
    case DType::kQ2_K:
      return q2_k;
    case DType::kQ3_K:
      return q3_k;
    case DType::kQ5_K:
      return q5_k;
    case DType::kIQ4_NL:
      return iq4_nl;
    case DType::kIQ4_XS:
      return iq4_xs;
  }
  SARATHI_CHECK(false, "no ops for dtype id {}", static_cast<uint32_t>(t));
  return f32;  // unreachable
}

const CpuOps& cpu_ops_for(Isa isa) {
  SARATHI_CHECK(isa_supported(isa), "ISA {} is not supported by this CPU", isa_name(isa));
  static const std::array<CpuOps, 4> tables = {make_ref_ops(), make_avx2_ops(), make_avx512_ops(),
                                               make_amx_ops()};
  return tables[static_cast<size_t>(isa)];
}

PackedGemmOps amx_tile_packed_ops(DType t) {
  if (!isa_supported(Isa::kAmx)) return {};
  if (t == DType::kQ8_0) return {avx512::pack_x_packed_q8_0, amx::packed_gemm_q8_0};
  if (t == DType::kQ4_0) return {avx512::pack_x_packed_q4_0, amx::packed_gemm_q4_0};
  return {};
}

const CpuOps& cpu_ops() {
  static const CpuOps& ops = cpu_ops_for(active_isa());
  return ops;
}

std::vector<PeakOp> peak_ops_supported() {
  std::vector<PeakOp> out;
  if (isa_supported(Isa::kAvx2)) out.push_back(PeakOp::kFmaYmm);
  if (isa_supported(Isa::kAvx512)) {
    out.push_back(PeakOp::kFmaZmm);
    out.push_back(PeakOp::kVnniZmm);
    if (features().avx512_bf16) out.push_back(PeakOp::kBf16Zmm);
  }
  if (isa_supported(Isa::kAmx)) {
    out.push_back(PeakOp::kAmxBf16);
    out.push_back(PeakOp::kAmxInt8);
  }
  return out;
}

std::string_view peak_op_name(PeakOp op) {
  switch (op) {
    case PeakOp::kFmaYmm:
      return "fma f32 ymm";
    case PeakOp::kFmaZmm:
      return "fma f32 zmm";
    case PeakOp::kVnniZmm:
      return "vpdpbusd int8";
    case PeakOp::kBf16Zmm:
      return "vdpbf16ps bf16";
    case PeakOp::kAmxBf16:
      return "amx tdpbf16ps";
    case PeakOp::kAmxInt8:
      return "amx tdpbusd";
  }
  return "?";
}

double peak_loop(PeakOp op, int64_t iters) {
  switch (op) {
    case PeakOp::kFmaYmm:
      return avx2::peak_fma(iters);
    case PeakOp::kFmaZmm:
      return avx512::peak_fma(iters);
    case PeakOp::kVnniZmm:
      return avx512::peak_vnni(iters);
    case PeakOp::kBf16Zmm:
      return avx512::peak_bf16(iters);
    case PeakOp::kAmxBf16:
      return amx::peak_bf16(iters);
    case PeakOp::kAmxInt8:
      return amx::peak_int8(iters);
  }
  return 0.0;
}

}  // namespace sarathi::kernels
