// tests/model/gguf_test.cpp: GGUF round trips through GgufWriter, typed getters, a hand-built
// version 2 file, open() through mmap, and the three real files in shared/models.
// Malformed inputs are covered by gguf_corrupt_test.cpp.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "tests/test_util.h"

namespace sarathi::model {
namespace {

using core::DType;

std::unique_ptr<GgufFile> must_parse(const std::vector<uint8_t>& bytes,
                                     const std::string& name = "test.gguf") {
  auto r = GgufFile::parse(bytes, name);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

GgufValue make(GgufType type) {
  GgufValue v;
  v.type = type;
  return v;
}
GgufValue make_u(GgufType type, uint64_t x) {
  GgufValue v = make(type);
  v.u64 = x;
  return v;
}
GgufValue make_i(GgufType type, int64_t x) {
  GgufValue v = make(type);
  v.i64 = x;
  return v;
}
GgufValue make_f(GgufType type, double x) {
  GgufValue v = make(type);
  v.f64 = x;
  return v;
}
GgufValue make_array(GgufType element_type, std::vector<GgufValue> elements) {
  GgufValue v = make(GgufType::kArray);
  v.array_type = element_type;
  v.array = std::move(elements);
  return v;
}

/// Compares two values field by field (only the field the type uses).
void expect_same(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  switch (a.type) {
    case GgufType::kUint8:
    case GgufType::kUint16:
    case GgufType::kUint32:
    case GgufType::kUint64:
    case GgufType::kBool: EXPECT_EQ(a.u64, b.u64) << where; break;
    case GgufType::kInt8:
    case GgufType::kInt16:
    case GgufType::kInt32:
    case GgufType::kInt64: EXPECT_EQ(a.i64, b.i64) << where; break;
    case GgufType::kFloat32:
    case GgufType::kFloat64: EXPECT_EQ(a.f64, b.f64) << where; break;
    case GgufType::kString: EXPECT_EQ(a.str, b.str) << where; break;
    case GgufType::kArray:
      ASSERT_EQ(a.array_type, b.array_type) << where;
      ASSERT_EQ(a.array.size(), b.array.size()) << where;
      for (size_t i = 0; i < a.array.size(); ++i)
        expect_same(a.array[i], b.array[i], where + "[" + std::to_string(i) + "]");
      break;
  }
}

std::vector<std::pair<std::string, GgufValue>> every_scalar() {
  return {
      {"t.u8", make_u(GgufType::kUint8, 200)},
      {"t.i8", make_i(GgufType::kInt8, -100)},
      {"t.u16", make_u(GgufType::kUint16, 65000)},
      {"t.i16", make_i(GgufType::kInt16, -30000)},
      {"t.u32", make_u(GgufType::kUint32, 4000000000u)},
      {"t.i32", make_i(GgufType::kInt32, -2000000000)},
      {"t.f32", make_f(GgufType::kFloat32, 0.15625)},
      {"t.bool", make_u(GgufType::kBool, 1)},
      {"t.u64", make_u(GgufType::kUint64, 0xfedcba9876543210ull)},
      {"t.i64", make_i(GgufType::kInt64, std::numeric_limits<int64_t>::min())},
      {"t.f64", make_f(GgufType::kFloat64, -1.0 / 3.0)},
  };
}

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  const auto values = every_scalar();
  for (const auto& [k, v] : values) w.set(k, v);
  w.set_string("t.string", "héllo\nworld");
  w.set_string("t.empty", "");
  auto f = must_parse(w.to_bytes());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  ASSERT_EQ(f->metadata().size(), values.size() + 2);
  for (const auto& [k, v] : values) {
    const GgufValue* got = f->find(k);
    ASSERT_NE(got, nullptr) << k;
    expect_same(v, *got, k);
  }
  EXPECT_EQ(f->get_string("t.string").value(), "héllo\nworld");
  EXPECT_EQ(f->get_string("t.empty").value(), "");
  EXPECT_EQ(f->get_int("t.i8").value(), -100);
  EXPECT_EQ(f->get_int("t.u32").value(), 4000000000);
  EXPECT_EQ(f->get_int("t.i64").value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f->get_float("t.f32").value(), 0.15625);
  EXPECT_EQ(f->get_float("t.f64").value(), -1.0 / 3.0);
  EXPECT_EQ(f->get_float("t.i16").value(), -30000.0);
  EXPECT_EQ(f->get_float("t.u64").value(), static_cast<double>(0xfedcba9876543210ull));
  EXPECT_TRUE(f->get_bool("t.bool").value());
}

TEST(GgufRoundTrip, ArraysOfEveryTypeAndNesting) {
  GgufWriter w;
  std::vector<std::pair<std::string, GgufValue>> values;
  for (const auto& [k, v] : every_scalar())
    values.emplace_back(k + ".array", make_array(v.type, {v, v, v}));
  values.emplace_back("t.empty_array", make_array(GgufType::kUint32, {}));
  GgufValue inner = make_array(GgufType::kUint8, {make_u(GgufType::kUint8, 1)});
  GgufValue empty_inner = make_array(GgufType::kString, {});
  GgufValue strings = make_array(GgufType::kString, {});
  strings.array.push_back(make(GgufType::kString));
  strings.array.back().str = "x";
  GgufValue middle = make_array(GgufType::kArray, {inner, inner});
  values.emplace_back("t.nested2", make_array(GgufType::kArray, {inner, empty_inner, strings}));
  values.emplace_back("t.nested3", make_array(GgufType::kArray, {middle, middle}));
  for (const auto& [k, v] : values) w.set(k, v);
  w.set_string_array("t.strings", {"a", "", "ccc"});
  w.set_f32_array("t.floats", {1.5f, -2.25f});
  w.set_i32_array("t.ints", {-1, 0, 7});

  auto f = must_parse(w.to_bytes());
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->metadata().size(), values.size() + 3);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f->metadata()[i].first, values[i].first);
    expect_same(values[i].second, f->metadata()[i].second, values[i].first);
  }
  EXPECT_EQ(f->get_string_array("t.strings").value(), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f->get_float_array("t.floats").value(), (std::vector<float>{1.5f, -2.25f}));
  EXPECT_EQ(f->get_int_array("t.ints").value(), (std::vector<int64_t>{-1, 0, 7}));
  EXPECT_EQ(f->get_int_array("t.u8.array").value(), (std::vector<int64_t>{200, 200, 200}));
  EXPECT_EQ(f->get_int_array("t.i64.array").value()[0], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f->get_float_array("t.f64.array").value()[2], static_cast<float>(-1.0 / 3.0));
  EXPECT_TRUE(f->get_int_array("t.empty_array").value().empty());
}

TEST(GgufRoundTrip, MetadataKeepsInsertionOrderAndSetReplaces) {
  GgufWriter w;
  w.set_u32("z", 1);
  w.set_u32("a", 2);
  w.set_string("m", "x");
  w.set_u32("a", 3);  // replaces in place
  auto f = must_parse(w.to_bytes());
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->metadata().size(), 3u);
  EXPECT_EQ(f->metadata()[0].first, "z");
  EXPECT_EQ(f->metadata()[1].first, "a");
  EXPECT_EQ(f->metadata()[2].first, "m");
  EXPECT_EQ(f->get_int("a").value(), 3);
}

TEST(GgufGetters, ErrorsNameFileAndKey) {
  GgufWriter w;
  w.set_string("s", "text");
  w.set("big", make_u(GgufType::kUint64, 1ull << 63));
  w.set("bigs", make_array(GgufType::kUint64, {make_u(GgufType::kUint64, ~0ull)}));
  w.set_f32_array("floats", {1.0f});
  w.set_bool("flag", false);
  auto f = must_parse(w.to_bytes(), "getters.gguf");
  ASSERT_NE(f, nullptr);
  auto expect_error = [](const auto& r, const std::string& needle) {
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.error().message.find("getters.gguf"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  expect_error(f->get_string("missing"), "missing key missing");
  EXPECT_EQ(f->get_string("missing").error().code, core::ErrorCode::kNotFound);
  expect_error(f->get_int("s"), "key s has type string");
  expect_error(f->get_float("s"), "key s has type string");
  expect_error(f->get_bool("s"), "key s has type string");
  expect_error(f->get_string("flag"), "key flag has type bool");
  expect_error(f->get_int("big"), "does not fit in int64");
  expect_error(f->get_int_array("bigs"), "does not fit in int64");
  expect_error(f->get_string_array("floats"), "key floats has type array of float32");
  expect_error(f->get_int_array("floats"), "array of float32");
  expect_error(f->get_float_array("s"), "key s has type string");
  expect_error(f->get_float_array("bigs"), "array of uint64");
  EXPECT_FALSE(f->get_bool("flag").value());
  EXPECT_EQ(f->get_float("big").value(), 9223372036854775808.0);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i);
  return v;
}

TEST(GgufRoundTrip, TensorsOfEverySupportedType) {
  struct Case {
    const char* name;
    DType dtype;
    std::vector<int64_t> shape;
    size_t num_bytes;
  };
  const std::vector<Case> cases = {
      {"f32", DType::kF32, {3, 2}, 24},
      {"f16", DType::kF16, {5}, 10},
      {"bf16", DType::kBF16, {2, 2, 2, 2}, 32},
      {"q8_0", DType::kQ8_0, {64, 3}, 6 * 34},
      {"q4_0", DType::kQ4_0, {32}, 18},
      {"q4_K", DType::kQ4_K, {256, 2}, 2 * 144},
      {"q6_K", DType::kQ6_K, {512, 1, 1}, 2 * 210},
  };
  for (uint32_t alignment : {0u, 1u, 8u, 32u, 64u, 256u}) {
    SCOPED_TRACE(alignment);
    GgufWriter w;
    if (alignment != 0) w.set_alignment(alignment);
    w.set_string("general.architecture", "test");
    uint8_t seed = 1;
    for (const Case& c : cases) w.add_tensor(c.name, c.dtype, c.shape, pattern(c.num_bytes, seed++));
    const std::vector<uint8_t> bytes = w.to_bytes();
    auto f = must_parse(bytes);
    ASSERT_NE(f, nullptr);
    const uint64_t expected_alignment = alignment == 0 ? 32 : alignment;
    EXPECT_EQ(f->alignment(), expected_alignment);
    EXPECT_EQ(f->find("general.alignment") != nullptr, alignment != 0);
    ASSERT_EQ(f->tensors().size(), cases.size());
    seed = 1;
    for (size_t i = 0; i < cases.size(); ++i) {
      const GgufTensorInfo& t = f->tensors()[i];
      EXPECT_EQ(t.name, cases[i].name);
      EXPECT_EQ(t.dtype, cases[i].dtype);
      EXPECT_EQ(t.shape, cases[i].shape);
      EXPECT_EQ(t.num_bytes, cases[i].num_bytes);
      EXPECT_EQ(t.offset % expected_alignment, 0u);
      const size_t file_pos = static_cast<size_t>(t.data - bytes.data());
      EXPECT_EQ(file_pos % expected_alignment, 0u);
      ASSERT_LE(file_pos + t.num_bytes, bytes.size());
      EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.num_bytes),
                pattern(cases[i].num_bytes, seed++));
      EXPECT_EQ(f->find_tensor(cases[i].name), &t);
    }
    int64_t elements = 1;
    for (int64_t d : cases[0].shape) elements *= d;
    EXPECT_EQ(f->tensors()[0].num_elements, elements);
    EXPECT_EQ(f->find_tensor("nope"), nullptr);
  }
}

TEST(GgufRoundTrip, EmptyFileHasNoMetadataOrTensors) {
  auto f = must_parse(GgufWriter().to_bytes());
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->metadata().empty());
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_EQ(f->find("general.architecture"), nullptr);
}

// -- A hand-assembled version 2 file ----------------------------------------------------------

struct V2Bytes {
  std::vector<uint8_t> b;
  void uint(uint64_t x, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(x >> (8 * i)));
  }
  void str(const std::string& s) {
    uint(s.size(), 8);
    b.insert(b.end(), s.begin(), s.end());
  }
};

TEST(GgufVersion2, HandAssembledFileParses) {
  V2Bytes w;
  w.b = {'G', 'G', 'U', 'F'};
  w.uint(2, 4);  // version
  w.uint(1, 8);  // tensors
  w.uint(3, 8);  // metadata entries
  w.str("general.architecture");
  w.uint(8, 4);
  w.str("llama");
  w.str("llama.block_count");
  w.uint(4, 4);
  w.uint(7, 4);
  w.str("tokenizer.ggml.scores");
  w.uint(9, 4);
  w.uint(6, 4);
  w.uint(2, 8);
  w.uint(std::bit_cast<uint32_t>(0.5f), 4);
  w.uint(std::bit_cast<uint32_t>(-1.0f), 4);
  w.str("w");  // tensor info
  w.uint(2, 4);
  w.uint(2, 8);
  w.uint(3, 8);
  w.uint(0, 4);  // f32
  w.uint(0, 8);  // offset
  while (w.b.size() % 32 != 0) w.b.push_back(0);
  const size_t data_pos = w.b.size();
  for (int i = 0; i < 6; ++i) w.uint(std::bit_cast<uint32_t>(static_cast<float>(i)), 4);

  auto f = must_parse(w.b, "v2.gguf");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f->get_int("llama.block_count").value(), 7);
  EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores").value(), (std::vector<float>{0.5f, -1}));
  const GgufTensorInfo* t = f->find_tensor("w");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->num_elements, 6);
  EXPECT_EQ(t->num_bytes, 24u);
  EXPECT_EQ(t->data, w.b.data() + data_pos);
}

// -- open(): files and mmap -------------------------------------------------------------------

std::string temp_path(const std::string& stem) {
  return (std::filesystem::temp_directory_path() /
          (stem + "_" + std::to_string(::getpid()) + ".gguf"))
      .string();
}

TEST(GgufOpen, WritesAndMapsAFile) {
  GgufWriter w;
  w.set_string("general.name", "mapped");
  w.add_tensor("t", DType::kF32, {4}, pattern(16, 9));
  const std::string path = temp_path("gguf_open");
  ASSERT_TRUE(w.write(path).ok());
  {
    auto r = GgufFile::open(path);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    const GgufFile& f = **r;
    EXPECT_EQ(f.name(), path);
    EXPECT_EQ(f.get_string("general.name").value(), "mapped");
    ASSERT_EQ(f.tensors().size(), 1u);
    EXPECT_EQ(std::vector<uint8_t>(f.tensors()[0].data, f.tensors()[0].data + 16), pattern(16, 9));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensors()[0].data) % 32, 0u);
  }
  std::filesystem::remove(path);
}

TEST(GgufOpen, ErrorsNameThePath) {
  const std::string missing = temp_path("gguf_missing");
  auto r = GgufFile::open(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find(missing), std::string::npos);

  const std::string empty = temp_path("gguf_empty");
  std::fclose(std::fopen(empty.c_str(), "wb"));
  r = GgufFile::open(empty);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(empty), std::string::npos);
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos);
  std::filesystem::remove(empty);

  r = GgufFile::open(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::ErrorCode::kIo);

  EXPECT_FALSE(GgufWriter().write("/nonexistent-dir/x.gguf").ok());
}

// -- The real files in shared/models -----------------------------------------------------------

void expect_tensor(const GgufFile& f, const std::string& name, DType dtype,
                   std::vector<int64_t> shape) {
  const GgufTensorInfo* t = f.find_tensor(name);
  ASSERT_NE(t, nullptr) << name;
  EXPECT_EQ(t->dtype, dtype) << name;
  EXPECT_EQ(t->shape, shape) << name;
}

TEST(GgufRealFiles, Stories260K) {
  SARATHI_REQUIRE_SHARED(path, sarathi::testing::shared_model("stories260K.gguf"));
  auto r = GgufFile::open(path);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f.get_int("llama.block_count").value(), 5);
  EXPECT_EQ(f.get_int("llama.embedding_length").value(), 64);
  EXPECT_EQ(f.get_int("llama.attention.head_count").value(), 8);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv").value(), 4);
  EXPECT_EQ(f.get_int("llama.feed_forward_length").value(), 172);
  EXPECT_EQ(f.get_int("llama.context_length").value(), 2048);
  EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon").value()),
                  1e-5f);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id").value(), 1);
  EXPECT_EQ(f.get_int("tokenizer.ggml.padding_token_id").value(), 4294967295);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model").value(), "llama");
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores").value().size(), 512u);
  EXPECT_EQ(f.get_int_array("tokenizer.ggml.token_type").value().size(), 512u);
  expect_tensor(f, "token_embd.weight", DType::kF32, {64, 512});
  expect_tensor(f, "output.weight", DType::kF32, {64, 512});
  expect_tensor(f, "output_norm.weight", DType::kF32, {64});
  expect_tensor(f, "blk.0.attn_k.weight", DType::kF32, {64, 32});
  expect_tensor(f, "blk.4.ffn_down.weight", DType::kF32, {172, 64});
  expect_tensor(f, "blk.4.ffn_gate.weight", DType::kF32, {64, 172});
  uint64_t end = 0;
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.num_bytes, static_cast<uint64_t>(t.num_elements) * 4) << t.name;
    end = std::max(end, t.offset + t.num_bytes);
  }
  const GgufTensorInfo& norm = *f.find_tensor("output_norm.weight");
  float first = 0;
  std::memcpy(&first, norm.data, sizeof(first));
  EXPECT_TRUE(std::isfinite(first));
  EXPECT_LE(end, std::filesystem::file_size(path));
}

TEST(GgufRealFiles, Llama2TinyRandom) {
  SARATHI_REQUIRE_SHARED(path, sarathi::testing::shared_model("llama-2-tiny-random.gguf"));
  auto r = GgufFile::open(path);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.tensors().size(), 12u);
  EXPECT_EQ(f.get_string("general.name").value(), "LLaMA v2");
  EXPECT_EQ(f.get_int("general.file_type").value(), 1);
  EXPECT_EQ(f.get_int("llama.block_count").value(), 1);
  EXPECT_EQ(f.get_int("llama.embedding_length").value(), 8);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").value().size(), 32000u);
  EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores").value().size(), 32000u);
  expect_tensor(f, "token_embd.weight", DType::kF16, {8, 32000});
  expect_tensor(f, "output.weight", DType::kF16, {8, 32000});
  expect_tensor(f, "blk.0.ffn_down.weight", DType::kF16, {32, 8});
  expect_tensor(f, "blk.0.attn_norm.weight", DType::kF32, {8});
  expect_tensor(f, "output_norm.weight", DType::kF32, {8});
  const GgufTensorInfo* last = f.find_tensor("output.weight");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->num_bytes, 8u * 32000 * 2);
}

TEST(GgufRealFiles, VocabOnlyGpt2) {
  SARATHI_REQUIRE_SHARED(path, sarathi::testing::shared_model("ggml-vocab-gpt-2.gguf"));
  auto r = GgufFile::open(path);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get_string("general.architecture").value(), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.model").value(), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre").value(), "gpt-2");
  EXPECT_EQ(f.get_int("gpt2.block_count").value(), 12);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id").value(), 50256);
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 50257u);
  EXPECT_EQ(tokens->back(), "<|endoftext|>");
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.merges").value().size(), 50000u);
  EXPECT_FALSE(f.get_float_array("tokenizer.ggml.scores").ok());
}

TEST(GgufRealFiles, ParseOfTheBytesMatchesOpen) {
  SARATHI_REQUIRE_SHARED(path, sarathi::testing::shared_model("stories260K.gguf"));
  const std::string text = sarathi::testing::read_file(path);
  const std::vector<uint8_t> bytes(text.begin(), text.end());
  auto parsed = GgufFile::parse(bytes, "stories");
  auto opened = GgufFile::open(path);
  ASSERT_TRUE(parsed.ok() && opened.ok());
  ASSERT_EQ((*parsed)->tensors().size(), (*opened)->tensors().size());
  for (size_t i = 0; i < (*parsed)->tensors().size(); ++i) {
    const auto& a = (*parsed)->tensors()[i];
    const auto& b = (*opened)->tensors()[i];
    EXPECT_EQ(a.data - (*parsed)->tensors()[0].data, b.data - (*opened)->tensors()[0].data);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.num_bytes), 0) << a.name;
  }
}

}  // namespace
}  // namespace sarathi::model
