// fuzz/gguf_seeds.cpp: writes a small seed corpus for gguf_fuzz with GgufWriter: every metadata
// type, nested arrays, each supported tensor type, a non-default alignment, a version 2 header.
// Usage: gguf_seeds <output-dir>

#include <cstdio>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace {

using sarathi::core::DType;
using sarathi::model::GgufType;
using sarathi::model::GgufValue;
using sarathi::model::GgufWriter;

GgufValue value(GgufType type, uint64_t u, int64_t i, double f) {
  GgufValue v;
  v.type = type;
  v.u64 = u;
  v.i64 = i;
  v.f64 = f;
  return v;
}

GgufValue array(GgufType element_type, std::vector<GgufValue> elements) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.array_type = element_type;
  v.array = std::move(elements);
  return v;
}

GgufWriter every_metadata_type() {
  GgufWriter w;
  w.set("u8", value(GgufType::kUint8, 7, 0, 0));
  w.set("i8", value(GgufType::kInt8, 0, -7, 0));
  w.set("u16", value(GgufType::kUint16, 700, 0, 0));
  w.set("i16", value(GgufType::kInt16, 0, -700, 0));
  w.set_u32("u32", 70000);
  w.set_i32("i32", -70000);
  w.set_f32("f32", 0.25f);
  w.set_bool("bool", true);
  w.set_string("string", "seed");
  w.set("u64", value(GgufType::kUint64, 1ull << 40, 0, 0));
  w.set("i64", value(GgufType::kInt64, 0, -(1ll << 40), 0));
  w.set("f64", value(GgufType::kFloat64, 0, 0, 1e-300));
  return w;
}

GgufWriter arrays() {
  GgufWriter w;
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b", "ab"});
  w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
  const GgufValue byte = value(GgufType::kUint8, 1, 0, 0);
  const GgufValue inner = array(GgufType::kUint8, {byte, byte});
  w.set("nested", array(GgufType::kArray, {inner, array(GgufType::kArray, {inner}), inner}));
  w.set("empty", array(GgufType::kBool, {}));
  w.set("f64s", array(GgufType::kFloat64, {value(GgufType::kFloat64, 0, 0, 2.5)}));
  return w;
}

void add_tensors(GgufWriter& w) {
  auto bytes = [](size_t n) { return std::vector<uint8_t>(n, 0x3c); };
  w.add_tensor("token_embd.weight", DType::kF32, {4, 6}, bytes(96));
  w.add_tensor("blk.0.attn_q.weight", DType::kF16, {4, 4}, bytes(32));
  w.add_tensor("blk.0.attn_k.weight", DType::kBF16, {4, 2}, bytes(16));
  w.add_tensor("blk.0.ffn_up.weight", DType::kQ8_0, {32, 2}, bytes(68));
  w.add_tensor("blk.0.ffn_down.weight", DType::kQ4_0, {32, 1}, bytes(18));
  w.add_tensor("blk.0.ffn_gate.weight", DType::kQ4_K, {256}, bytes(144));
  w.add_tensor("output.weight", DType::kQ6_K, {256, 1, 1, 1}, bytes(210));
}

bool write(const std::string& dir, const std::string& name, std::vector<uint8_t> bytes) {
  const std::string path = dir + "/" + name + ".gguf";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  GgufWriter model = arrays();
  model.set_string("general.architecture", "llama");
  model.set_u32("llama.block_count", 1);
  add_tensors(model);
  GgufWriter aligned;
  aligned.set_alignment(64);
  add_tensors(aligned);
  GgufWriter one_tensor;
  one_tensor.add_tensor("t", DType::kF32, {1}, std::vector<uint8_t>(4, 0));
  std::vector<uint8_t> v2 = model.to_bytes();
  v2[4] = 2;  // the version field; v2 and v3 share the layout

  bool ok = write(dir, "empty", GgufWriter().to_bytes());
  ok = write(dir, "scalars", every_metadata_type().to_bytes()) && ok;
  ok = write(dir, "arrays", arrays().to_bytes()) && ok;
  ok = write(dir, "model", model.to_bytes()) && ok;
  ok = write(dir, "aligned64", aligned.to_bytes()) && ok;
  ok = write(dir, "one_tensor", one_tensor.to_bytes()) && ok;
  ok = write(dir, "model_v2", v2) && ok;
  if (!ok) {
    std::fprintf(stderr, "gguf_seeds: cannot write to %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
