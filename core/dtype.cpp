#include "core/dtype.h"

#include <array>
#include <cctype>

namespace sarathi::core {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  int64_t block_size;
  size_t block_bytes;
};

constexpr std::array<DTypeInfo, 16> kInfos = {{
    {DType::kF32, "f32", 1, 4},
    {DType::kF16, "f16", 1, 2},
    {DType::kQ4_0, "q4_0", kQK4_0, sizeof(BlockQ4_0)},
    {DType::kQ4_1, "q4_1", kQK4_0, sizeof(BlockQ4_1)},
    {DType::kQ5_0, "q5_0", kQK4_0, sizeof(BlockQ5_0)},
    {DType::kQ5_1, "q5_1", kQK4_0, sizeof(BlockQ5_1)},
    {DType::kQ8_0, "q8_0", kQK8_0, sizeof(BlockQ8_0)},
    {DType::kQ2_K, "q2_K", kQK_K, sizeof(BlockQ2_K)},
    {DType::kQ3_K, "q3_K", kQK_K, sizeof(BlockQ3_K)},
    {DType::kQ4_K, "q4_K", kQK_K, sizeof(BlockQ4_K)},
    {DType::kQ5_K, "q5_K", kQK_K, sizeof(BlockQ5_K)},
    {DType::kQ6_K, "q6_K", kQK_K, sizeof(BlockQ6_K)},
    {DType::kQ8_K, "q8_K", kQK_K, sizeof(BlockQ8_K)},
    {DType::kIQ4_NL, "iq4_nl", kQK4_0, sizeof(BlockIQ4_NL)},
    {DType::kIQ4_XS, "iq4_xs", kQK_K, sizeof(BlockIQ4_XS)},
    {DType::kBF16, "bf16", 1, 2},
}};

const DTypeInfo& info(DType t) {
  for (const auto& i : kInfos)
    if (i.type == t) return i;
  return kInfos[0];  // unreachable for valid enumerators
}

// GGML's type names by id (ggml.c type_traits[].type_name); gaps are removed types.
constexpr std::array<std::string_view, 40> kGgmlNames = {
    "f32",  "f16",  "q4_0", "q4_1",    "q4_2(removed)", "q4_3(removed)", "q5_0",   "q5_1",
    "q8_0", "q8_1", "q2_K", "q3_K",    "q4_K",          "q5_K",          "q6_K",   "q8_K",
    "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs",
    "i8",   "i16",  "i32",  "i64",     "f64",           "iq1_m",         "bf16",   "q4_0_4_4",
    "q4_0_4_8", "q4_0_8_8", "tq1_0", "tq2_0", "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8", "?"};

}  // namespace

int64_t dtype_block_size(DType t) { return info(t).block_size; }
size_t dtype_block_bytes(DType t) { return info(t).block_bytes; }
std::string_view dtype_name(DType t) { return info(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& i : kInfos) {
    if (i.name.size() != name.size()) continue;
    bool eq = true;
    for (size_t k = 0; k < name.size() && eq; ++k)
      eq = std::tolower(static_cast<unsigned char>(name[k])) ==
           std::tolower(static_cast<unsigned char>(i.name[k]));
    if (eq) return i.type;
  }
  return std::nullopt;
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
  for (const auto& i : kInfos)
    if (static_cast<uint32_t>(i.type) == ggml_type && i.type != DType::kQ8_K) return i.type;
  return std::nullopt;
}

std::string_view ggml_type_name(uint32_t ggml_type) {
  if (ggml_type < kGgmlNames.size() - 1) return kGgmlNames[ggml_type];
  return "unknown";
}

std::optional<size_t> dtype_row_bytes(DType t, int64_t n) {
  const auto& i = info(t);
  if (n < 0 || n % i.block_size != 0) return std::nullopt;
  return static_cast<size_t>(n / i.block_size) * i.block_bytes;
}

}  // namespace sarathi::core
