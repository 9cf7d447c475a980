// tests/model/gguf_corrupt_test.cpp: malformed GGUF input. Truncation at every offset, each
// header field corrupted on purpose (with the expected message), and seeded random mutations.
// Every case must give an Error naming the file, never a crash: this suite runs under ASan.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "tests/test_util.h"

namespace sarathi::model {
namespace {

using core::DType;
using core::ErrorCode;

constexpr char kName[] = "bad.gguf";

// Value and tensor type ids as written in files.
constexpr uint32_t kU32 = 4, kI32 = 5, kBool = 7, kString = 8, kArray = 9, kU64 = 10;
constexpr uint32_t kF32 = 0, kQ8_0 = 8, kIQ2_XXS = 16;

/// Builds GGUF bytes field by field, so each test states exactly what is malformed.
struct Bytes {
  std::vector<uint8_t> b;

  Bytes& uint(uint64_t x, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(x >> (8 * i)));
    return *this;
  }
  Bytes& u8(uint64_t x) { return uint(x, 1); }
  Bytes& u32(uint64_t x) { return uint(x, 4); }
  Bytes& u64(uint64_t x) { return uint(x, 8); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& header(uint64_t num_tensors, uint64_t num_kv, uint32_t version = 3) {
    b = {'G', 'G', 'U', 'F'};
    return u32(version).u64(num_tensors).u64(num_kv);
  }
  Bytes& kv_u32(const std::string& key, uint64_t value) { return str(key).u32(kU32).u32(value); }
  Bytes& tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                uint64_t offset) {
    str(name).u32(dims.size());
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Bytes& pad(size_t alignment = 32) {
    while (b.size() % alignment != 0) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

core::Result<std::unique_ptr<GgufFile>> parse(const std::vector<uint8_t>& bytes,
                                              const GgufLimits& limits = {}) {
  return GgufFile::parse(bytes, kName, limits);
}

/// Expects an error whose message names the file and contains `needle`.
void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle,
                  const GgufLimits& limits = {}) {
  auto r = parse(bytes, limits);
  ASSERT_FALSE(r.ok()) << "parsed, expected: " << needle;
  const std::string& msg = r.error().message;
  EXPECT_EQ(msg.rfind(std::string(kName) + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nwanted: " << needle;
}

/// Uses every part of a parsed file, so ASan sees any pointer that escaped the buffer.
void touch_everything(const GgufFile& f) {
  for (const auto& [key, value] : f.metadata()) {
    (void)f.get_string(key);
    (void)f.get_int(key);
    (void)f.get_float(key);
    (void)f.get_bool(key);
    (void)f.get_string_array(key);
    (void)f.get_float_array(key);
    (void)f.get_int_array(key);
  }
  for (const auto& t : f.tensors()) {
    ASSERT_GT(t.num_bytes, 0u);
    volatile uint8_t first = t.data[0];
    volatile uint8_t last = t.data[t.num_bytes - 1];
    (void)first;
    (void)last;
  }
}

/// A small valid file with every kind of metadata and three tensors.
std::vector<uint8_t> valid_fixture() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_i32("t.i32", -3);
  w.set_f32("t.f32", 0.5f);
  w.set_bool("t.bool", true);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "a", "bc"});
  w.set_f32_array("tokenizer.ggml.scores", {0, -1, -2});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 1, 1});
  GgufValue inner;
  inner.type = GgufType::kArray;
  inner.array_type = GgufType::kUint64;
  inner.array.resize(2);
  for (auto& e : inner.array) e.type = GgufType::kUint64;
  GgufValue nested;
  nested.type = GgufType::kArray;
  nested.array_type = GgufType::kArray;
  nested.array = {inner, inner};
  w.set("t.nested", nested);
  w.add_tensor("a", DType::kF32, {4, 2}, std::vector<uint8_t>(32, 1));
  w.add_tensor("b", DType::kQ8_0, {32}, std::vector<uint8_t>(34, 2));
  w.add_tensor("c", DType::kF16, {3}, std::vector<uint8_t>(6, 3));
  return w.to_bytes();
}

/// One f32 tensor of 4 elements at offset 0, with its data: the base of most field tests.
Bytes one_tensor_file(const std::vector<uint64_t>& dims = {4}, uint32_t type = kF32,
                      uint64_t offset = 0) {
  Bytes f;
  f.header(1, 0).tensor("t", dims, type, offset).pad().zeros(16);
  return f;
}

TEST(GgufCorrupt, BaselineFilesParse) {
  EXPECT_TRUE(parse(valid_fixture()).ok());
  EXPECT_TRUE(parse(one_tensor_file().b).ok());
}

// -- Truncation --------------------------------------------------------------------------------

/// Where the last tensor's data ends (the file is valid up to there).
size_t data_end(const GgufFile& f, const std::vector<uint8_t>& bytes) {
  size_t end = 0;
  for (const auto& t : f.tensors())
    end = std::max(end, static_cast<size_t>(t.data - bytes.data()) + t.num_bytes);
  return end;
}

TEST(GgufCorrupt, TruncatedFixtureAtEveryOffset) {
  const std::vector<uint8_t> full = valid_fixture();
  auto f = parse(full);
  ASSERT_TRUE(f.ok());
  const size_t end = data_end(**f, full);
  for (size_t cut = 0; cut < full.size(); ++cut) {
    const std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<ptrdiff_t>(cut));
    auto r = parse(part);
    if (cut < end) {
      ASSERT_FALSE(r.ok()) << "cut at " << cut;
      EXPECT_EQ(r.error().message.rfind(std::string(kName) + ": ", 0), 0u) << r.error().message;
    } else {
      ASSERT_TRUE(r.ok()) << "cut at " << cut << ": " << r.error().message;  // trailing pad
    }
  }
}

TEST(GgufCorrupt, TruncatedRealFileAtEveryHeaderOffset) {
  SARATHI_REQUIRE_SHARED(path, sarathi::testing::shared_model("stories260K.gguf"));
  const std::string text = sarathi::testing::read_file(path);
  const std::vector<uint8_t> full(text.begin(), text.end());
  auto f = parse(full);
  ASSERT_TRUE(f.ok()) << f.error().message;
  const GgufTensorInfo& first = (*f)->tensors()[0];
  const size_t data_start = static_cast<size_t>(first.data - full.data()) - first.offset;
  const size_t end = data_end(**f, full);
  ASSERT_LE(end, full.size());
  // The tensor-info section starts with the first tensor's name (after its u64 length).
  const auto name_at = std::search(full.begin(), full.end(), first.name.begin(), first.name.end());
  ASSERT_NE(name_at, full.end());
  const size_t infos_start = static_cast<size_t>(name_at - full.begin()) - 8;
  // A view that ends at `cut` (no copy: the parser must not look past the span).
  auto check = [&](size_t cut) {
    auto r = GgufFile::parse(std::span<const uint8_t>(full.data(), cut), kName);
    if (cut < end) {
      ASSERT_FALSE(r.ok()) << "cut at " << cut;
      EXPECT_EQ(r.error().message.rfind(std::string(kName) + ": ", 0), 0u);
    } else {
      ASSERT_TRUE(r.ok()) << "cut at " << cut;
    }
  };
  // Every offset of the header, the first entries and the tensor infos; the 512-string token
  // array in between (which dominates the run time under ASan) at a stride of 7 bytes.
  for (size_t cut = 0; cut <= data_start; cut += (cut < 1024 || cut + 64 >= infos_start) ? 1 : 7)
    check(cut);
  for (size_t cut = data_start; cut <= full.size(); cut += 4099) check(cut);
  check(end - 1);
  check(full.size());
}

TEST(GgufCorrupt, TruncatedPiecesNameWhatWasCut) {
  expect_error({'G', 'G'}, "truncated header");
  EXPECT_TRUE(parse(Bytes().header(0, 0).b).ok());  // a bare header is a valid empty file
  Bytes h;
  h.header(0, 1);
  h.b.resize(h.b.size() - 1);
  expect_error(h.b, "truncated header (metadata count)");
  expect_error(Bytes().header(0, 1).u64(100).zeros(8).b, "truncated metadata key 0");
  expect_error(Bytes().header(0, 1).str("k").u32(kU64).u32(1).b, "truncated value of key k");
  expect_error(Bytes().header(0, 1).str("k").u32(kArray).u32(kU32).u64(6).u32(1).zeros(16).b,
               "truncated array of key k: 6 elements of type uint32");
  expect_error(Bytes().header(1, 0).str("a_long_tensor_name").u32(2).u64(4).u32(0).b,
               "truncated dimensions of tensor a_long_tensor_name");
}

// -- Corrupted header fields -------------------------------------------------------------------

TEST(GgufCorrupt, BadMagic) {
  Bytes f = one_tensor_file();
  f.b[0] = 'X';
  expect_error(f.b, "bad magic");
  expect_error(std::vector<uint8_t>(64, 0), "bad magic 00 00 00 00");
}

TEST(GgufCorrupt, UnsupportedVersions) {
  for (uint32_t v : {0u, 1u, 4u, 0xffffffffu}) {
    Bytes f;
    f.header(0, 0, v);
    expect_error(f.b, "unsupported GGUF version " + std::to_string(v));
    EXPECT_EQ(parse(f.b).error().code, ErrorCode::kUnsupported);
  }
  expect_error(Bytes().header(0, 0, 0x03000000).b, "(a big-endian file?)");
}

TEST(GgufCorrupt, HugeCounts) {
  expect_error(Bytes().header(1ull << 40, 0).b, "tensor count 1099511627776 exceeds the limit");
  expect_error(Bytes().header(0, ~0ull).b, "metadata count 18446744073709551615 exceeds");
  // Within the limits but more than the bytes that follow could hold.
  expect_error(Bytes().header(1000, 0).zeros(100).b, "truncated file");
  expect_error(Bytes().header(0, 1000).zeros(100).b, "truncated file");
  GgufLimits limits;
  limits.max_tensors = 2;
  limits.max_kv = 2;
  expect_error(Bytes().header(3, 0).zeros(200).b, "tensor count 3 exceeds the limit 2", limits);
  expect_error(Bytes().header(0, 3).zeros(200).b, "metadata count 3 exceeds the limit 2", limits);
}

TEST(GgufCorrupt, HugeStringLengths) {
  expect_error(Bytes().header(0, 1).u64(1ull << 62).zeros(16).b,
               "metadata key 0 has length 4611686018427387904, which exceeds the limit");
  expect_error(Bytes().header(0, 1).str("k").u32(kString).u64(~0ull).zeros(8).b,
               "string of key k has length 18446744073709551615");
  expect_error(Bytes().header(0, 1).str("k").u32(kString).u64(1000).zeros(8).b,
               "truncated string of key k");
  expect_error(Bytes().header(1, 0).u64(1ull << 60).zeros(40).b, "tensor name 0 has length");
  GgufLimits limits;
  limits.max_string_bytes = 4;
  expect_error(Bytes().header(0, 1).str("k").u32(kString).str("hello").b,
               "string of key k has length 5, which exceeds the limit 4", limits);
  EXPECT_EQ(parse(Bytes().header(0, 1).str("k").u32(kString).str("hello").b, limits).error().code,
            ErrorCode::kOutOfRange);
}

TEST(GgufCorrupt, BadMetadataValues) {
  expect_error(Bytes().header(0, 1).str("k").u32(13).u64(0).b, "unknown metadata value type 13");
  expect_error(Bytes().header(0, 1).str("k").u32(0xffffffff).u64(0).b,
               "unknown metadata value type 4294967295 of key k");
  expect_error(Bytes().header(0, 1).str("k").u32(kBool).u8(2).zeros(12).b,
               "bool value 2 of key k is not 0 or 1");
  expect_error(Bytes().header(0, 1).str("k").u32(kArray).u32(kBool).u64(2).u8(1).u8(255).b,
               "bool value 255 of key k is not 0 or 1");
  expect_error(Bytes().header(0, 1).str("k").u32(kArray).u32(99).u64(0).b,
               "unknown metadata value type 99 of key k");
  expect_error(Bytes().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).b, "duplicate key k");
}

TEST(GgufCorrupt, BadArrays) {
  expect_error(Bytes().header(0, 1).str("k").u32(kArray).u32(kU32).u64(~0ull).zeros(64).b,
               "array of key k has 18446744073709551615 elements, which exceeds the limit");
  expect_error(Bytes().header(0, 1).str("k").u32(kArray).u32(kString).u64(1000).zeros(64).b,
               "truncated array of key k: 1000 elements of type string");
  // Arrays of (empty) arrays 9 deep: one more than the default limit of 8.
  Bytes deep;
  deep.header(0, 1).str("k").u32(kArray);
  for (int i = 0; i < 8; ++i) deep.u32(kArray).u64(1);
  deep.u32(kU32).u64(0);
  expect_error(deep.b, "arrays of key k are nested deeper than the limit 8");
  Bytes ok_depth;
  ok_depth.header(0, 1).str("k").u32(kArray);
  for (int i = 0; i < 7; ++i) ok_depth.u32(kArray).u64(1);
  ok_depth.u32(kU32).u64(0);
  EXPECT_TRUE(parse(ok_depth.b).ok());
  GgufLimits limits;
  limits.max_array_elements = 2;
  expect_error(Bytes().header(0, 1).str("k").u32(kArray).u32(kI32).u64(3).zeros(12).b,
               "array of key k has 3 elements, which exceeds the limit 2", limits);
}

TEST(GgufCorrupt, BadAlignment) {
  for (uint64_t a : {0ull, 3ull, 48ull, 0x80000001ull}) {
    Bytes f;
    f.header(0, 1).kv_u32("general.alignment", a);
    expect_error(f.b, "general.alignment " + std::to_string(a) + " is not a nonzero power of two");
  }
  expect_error(Bytes().header(0, 1).str("general.alignment").u32(kU64).u64(32).b,
               "general.alignment has type uint64, expected uint32");
  expect_error(Bytes().header(0, 1).str("general.alignment").u32(kString).str("32").b,
               "general.alignment has type string, expected uint32");
  // A valid non-default alignment moves the data section.
  Bytes f;
  f.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {4}, kF32, 0).pad(64).zeros(16);
  auto r = parse(f.b);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->alignment(), 64u);
  EXPECT_EQ(((*r)->tensors()[0].data - f.b.data()) % 64, 0);
}

TEST(GgufCorrupt, BadDimensions) {
  expect_error(one_tensor_file({}).b, "tensor t has 0 dimensions (must be 1 to 4)");
  expect_error(one_tensor_file({1, 1, 1, 1, 4}).b, "tensor t has 5 dimensions");
  expect_error(Bytes().header(1, 0).str("t").u32(0xffffffff).zeros(64).b,
               "tensor t has 4294967295 dimensions");
  expect_error(one_tensor_file({4, 0}).b, "dimension 1 of tensor t is 0");
  expect_error(one_tensor_file({1ull << 63}).b,
               "dimension 0 of tensor t is negative or too large (9223372036854775808)");
  expect_error(one_tensor_file({~0ull}).b, "dimension 0 of tensor t is negative or too large");
  expect_error(one_tensor_file({1ull << 32, 1ull << 32}).b,
               "element count of tensor t overflows int64");
  expect_error(one_tensor_file({1ull << 62, 4}).b, "element count of tensor t overflows");
  // 2^62 f32 elements fit in int64 but their 2^64 bytes do not fit in uint64.
  expect_error(one_tensor_file({1ull << 61, 2}).b, "byte size of tensor t overflows");
  expect_error(one_tensor_file({1ull << 62}).b, "byte size of tensor t overflows");
  expect_error(one_tensor_file({1ull << 62}, 1).b, "data of tensor t (offset 0, 9223372036854775808");
  // Representable but absurd: the data cannot be in the file.
  expect_error(one_tensor_file({1ull << 40}).b, "data of tensor t");
}

TEST(GgufCorrupt, UnsupportedAndUnknownTensorTypes) {
  Bytes f;
  f.header(1, 0).tensor("blk.0.attn_q.weight", {256, 4}, kIQ2_XXS, 0).pad().zeros(4096);
  auto r = parse(f.b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            std::string(kName) + ": unsupported tensor type iq2_xxs in tensor blk.0.attn_q.weight");
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  expect_error(one_tensor_file({4}, 99).b, "unsupported tensor type 99 in tensor t");
  expect_error(one_tensor_file({4}, 0xffffffff).b, "unsupported tensor type 4294967295");
  expect_error(one_tensor_file({32}, 15).b, "unsupported tensor type q8_K in tensor t");
  expect_error(one_tensor_file({32}, 9).b, "unsupported tensor type q8_1 in tensor t");
  expect_error(one_tensor_file({256}, 22).b, "unsupported tensor type iq2_s in tensor t");
}

TEST(GgufCorrupt, RowSizeNotAMultipleOfTheBlock) {
  expect_error(one_tensor_file({33, 2}, kQ8_0).b,
               "row size 33 of tensor t is not a multiple of the block size 32 of q8_0");
  expect_error(one_tensor_file({128}, 12).b, "not a multiple of the block size 256 of q4_K");
}

TEST(GgufCorrupt, TensorDataOutsideTheFileOrMisaligned) {
  expect_error(one_tensor_file({4}, kF32, 32).b,
               "data of tensor t (offset 32, 16 bytes) lies outside the file");
  expect_error(one_tensor_file({4}, kF32, ~0ull & ~31ull).b, "lies outside the file");
  expect_error(one_tensor_file({5}, kF32, 0).b, "(offset 0, 20 bytes) lies outside the file");
  expect_error(one_tensor_file({4}, kF32, 4).b,
               "data offset 4 of tensor t is not a multiple of the alignment 32");
  // Tensor infos present, data section cut off entirely.
  Bytes f;
  f.header(1, 0).tensor("t", {4}, kF32, 0);
  expect_error(f.b, "data of tensor t");
}

TEST(GgufCorrupt, DuplicateAndOverlappingTensors) {
  Bytes dup;
  dup.header(2, 0).tensor("t", {4}, kF32, 0).tensor("t", {4}, kF32, 32).pad().zeros(64);
  expect_error(dup.b, "duplicate tensor name t");
  Bytes overlap;
  overlap.header(2, 0).tensor("a", {16}, kF32, 0).tensor("b", {4}, kF32, 32).pad().zeros(64);
  expect_error(overlap.b, "data of tensors a and b overlap");
  Bytes shared;
  shared.header(2, 0).tensor("a", {4}, kF32, 32).tensor("b", {4}, kF32, 32).pad().zeros(64);
  expect_error(shared.b, "overlap");
  Bytes adjacent;
  adjacent.header(2, 0).tensor("a", {8}, kF32, 32).tensor("b", {8}, kF32, 0).pad().zeros(64);
  EXPECT_TRUE(parse(adjacent.b).ok());
}

TEST(GgufCorrupt, WriterMisuseIsCaughtByTheReader) {
  GgufWriter w;
  w.set_alignment(48);
  w.add_tensor("t", DType::kF32, {4}, std::vector<uint8_t>(16));
  expect_error(w.to_bytes(), "general.alignment 48 is not a nonzero power of two");
  GgufWriter short_data;
  short_data.add_tensor("t", DType::kF32, {16}, std::vector<uint8_t>(16));
  expect_error(short_data.to_bytes(), "lies outside the file");
  GgufWriter bad_bool;
  GgufValue v;
  v.type = GgufType::kBool;
  v.u64 = 7;
  bad_bool.set("flag", v);
  expect_error(bad_bool.to_bytes(), "bool value 7 of key flag is not 0 or 1");
}

// -- Random mutations --------------------------------------------------------------------------

/// Overwrites 1-4 random bytes (often with boundary values), parses, and checks the outcome.
void mutate_and_parse(std::vector<uint8_t>& bytes, size_t mutable_prefix, std::mt19937_64& rng,
                      uint64_t iteration) {
  static constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x02, 0x04, 0x07, 0x08, 0x09, 0x0d,
                                             0x1f, 0x20, 0x40, 0x7f, 0x80, 0xfe, 0xff};
  std::vector<std::pair<size_t, uint8_t>> saved;
  const int num_edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < num_edits; ++e) {
    const size_t pos = rng() % mutable_prefix;
    saved.emplace_back(pos, bytes[pos]);
    switch (rng() % 3) {
      case 0: bytes[pos] = static_cast<uint8_t>(rng()); break;
      case 1: bytes[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      default: bytes[pos] = kInteresting[rng() % sizeof(kInteresting)]; break;
    }
  }
  const size_t len = rng() % 8 == 0 ? rng() % (bytes.size() + 1) : bytes.size();
  auto r = GgufFile::parse(std::span<const uint8_t>(bytes.data(), len), kName);
  if (r.ok()) {
    touch_everything(**r);
  } else {
    EXPECT_EQ(r.error().message.rfind(std::string(kName) + ": ", 0), 0u)
        << "iteration " << iteration << ": " << r.error().message;
  }
  for (auto it = saved.rbegin(); it != saved.rend(); ++it) bytes[it->first] = it->second;
}

TEST(GgufCorrupt, RandomMutationsOfTheFixture) {
  std::vector<uint8_t> bytes = valid_fixture();
  std::mt19937_64 rng(0x5a4a7431);
  size_t num_ok = 0;
  for (uint64_t i = 0; i < 5000; ++i) {
    mutate_and_parse(bytes, bytes.size(), rng, i);
    num_ok += parse(bytes).ok();  // the bytes are restored after each mutation
  }
  EXPECT_EQ(num_ok, 5000u);
}

TEST(GgufCorrupt, RandomMutationsOfARealHeader) {
  SARATHI_REQUIRE_SHARED(path, sarathi::testing::shared_model("stories260K.gguf"));
  const std::string text = sarathi::testing::read_file(path);
  std::vector<uint8_t> bytes(text.begin(), text.end());
  auto f = parse(bytes);
  ASSERT_TRUE(f.ok());
  const size_t data_start = static_cast<size_t>((*f)->tensors()[0].data - bytes.data()) -
                            (*f)->tensors()[0].offset;
  std::mt19937_64 rng(20240531);
  for (uint64_t i = 0; i < 600; ++i) mutate_and_parse(bytes, data_start, rng, i);
  // The tensor-info section alone (the last ~2 KiB before the data) gets extra attention.
  const size_t tail = std::min<size_t>(data_start, 2048);
  std::vector<uint8_t> copy = bytes;
  for (uint64_t i = 0; i < 600; ++i) {
    std::span<uint8_t> view(copy.data() + data_start - tail, tail);
    const size_t pos = rng() % view.size();
    const uint8_t old = view[pos];
    view[pos] = static_cast<uint8_t>(rng());
    auto r = parse(copy);
    if (r.ok()) touch_everything(**r);
    view[pos] = old;
  }
}

}  // namespace
}  // namespace sarathi::model
