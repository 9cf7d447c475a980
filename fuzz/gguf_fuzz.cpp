// fuzz/gguf_fuzz.cpp: libFuzzer target for the GGUF parser. Any input must give a file or an
// Error naming the input; a parsed file must satisfy the reader's invariants, and writing it
// back with GgufWriter must give bytes that parse and re-serialize identically.
// Built with the `fuzz` preset (clang, ASan+UBSan); run through scripts/fuzz.sh.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace {

using sarathi::model::GgufFile;
using sarathi::model::GgufWriter;

constexpr char kName[] = "fuzz-input";

[[noreturn]] void fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "gguf_fuzz: invariant violated: %s %s\n", what, detail.c_str());
  std::abort();
}

/// Calls every getter on every key (results ignored: only crashes and UB matter here).
void exercise_getters(const GgufFile& f) {
  for (const auto& [key, value] : f.metadata()) {
    if (f.find(key) != &value) fail("find() does not return the stored value for", key);
    (void)f.get_string(key);
    (void)f.get_int(key);
    (void)f.get_float(key);
    (void)f.get_bool(key);
    (void)f.get_string_array(key);
    (void)f.get_float_array(key);
    (void)f.get_int_array(key);
  }
}

/// Checks the tensor views: inside the input, aligned, sized consistently with their shape.
void check_tensors(const GgufFile& f, std::span<const uint8_t> bytes) {
  const uint8_t* begin = bytes.data();
  const uint8_t* end = bytes.data() + bytes.size();
  for (const auto& t : f.tensors()) {
    if (f.find_tensor(t.name) != &t) fail("find_tensor() mismatch for", t.name);
    if (t.shape.empty() || t.shape.size() > 4) fail("bad rank of", t.name);
    int64_t n = 1;
    for (int64_t d : t.shape) {
      if (d <= 0) fail("non-positive dimension in", t.name);
      n *= d;
    }
    if (n != t.num_elements) fail("element count mismatch in", t.name);
    if (t.num_bytes == 0 || t.data < begin || t.data > end ||
        t.num_bytes > static_cast<uint64_t>(end - t.data))
      fail("tensor data outside the input:", t.name);
    if (static_cast<uint64_t>(t.data - begin) % f.alignment() != 0 ||
        t.offset % f.alignment() != 0)
      fail("misaligned tensor", t.name);
    volatile uint8_t first = t.data[0];
    volatile uint8_t last = t.data[t.num_bytes - 1];
    (void)first;
    (void)last;
  }
}

std::vector<uint8_t> rewrite(const GgufFile& f) {
  GgufWriter w;
  for (const auto& [key, value] : f.metadata()) w.set(key, value);
  for (const auto& t : f.tensors())
    w.add_tensor(t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.num_bytes));
  return w.to_bytes();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  auto parsed = GgufFile::parse(bytes, kName);
  if (!parsed.ok()) {
    if (parsed.error().message.rfind(std::string(kName) + ": ", 0) != 0)
      fail("error message does not name the input:", parsed.error().message);
    return 0;
  }
  const GgufFile& f = **parsed;
  if (f.version() != 2 && f.version() != 3) fail("accepted version", std::to_string(f.version()));
  exercise_getters(f);
  check_tensors(f, bytes);

  // Round trip: write what was parsed, parse it again, and write again. The first rewrite may
  // differ from the input (layout, NaN payloads); from then on the bytes must be stable.
  // Huge (valid) alignments would make the rewrite megabytes of padding: skip those.
  if (f.alignment() > (1u << 16)) return 0;
  const std::vector<uint8_t> once = rewrite(f);
  auto reparsed = GgufFile::parse(once, kName);
  if (!reparsed.ok()) fail("the writer's output does not parse:", reparsed.error().message);
  if ((*reparsed)->metadata().size() != f.metadata().size() ||
      (*reparsed)->tensors().size() != f.tensors().size())
    fail("round trip changed the counts");
  if (rewrite(**reparsed) != once) fail("writing is not stable across a round trip");
  return 0;
}
