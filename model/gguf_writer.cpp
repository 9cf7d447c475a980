// model/gguf_writer.cpp: GgufWriter, which serializes metadata and tensors as GGUF version 3.
// The writer is deliberately permissive (it writes what it is given, e.g. a bool of 2 or an
// alignment of 48) so that tests can build malformed files; the reader does all validation.

#include <bit>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <utility>

#include "model/gguf.h"

namespace sarathi::model {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr std::string_view kAlignmentKey = "general.alignment";

/// Appends little-endian fields to a byte vector.
class ByteSink {
 public:
  explicit ByteSink(std::vector<uint8_t>& out) : out_(out) {}

  void uint(uint64_t x, int num_bytes) {
    for (int i = 0; i < num_bytes; ++i) out_.push_back(static_cast<uint8_t>(x >> (8 * i)));
  }
  void u32(uint32_t x) { uint(x, 4); }
  void u64(uint64_t x) { uint(x, 8); }
  void str(std::string_view s) {
    u64(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void bytes(const std::vector<uint8_t>& b) { out_.insert(out_.end(), b.begin(), b.end()); }
  /// Zero-pads to a multiple of `alignment` (0 or 1 pads nothing).
  void pad(uint64_t alignment) {
    if (alignment <= 1) return;
    const uint64_t rem = out_.size() % alignment;
    if (rem != 0) out_.resize(out_.size() + (alignment - rem), 0);
  }

  /// Writes the payload of `v` as a value of `type` (the type id itself is not written).
  void value(const GgufValue& v, GgufType type) {
    switch (type) {
      case GgufType::kUint8:
      case GgufType::kBool: uint(v.u64, 1); break;
      case GgufType::kInt8: uint(static_cast<uint64_t>(v.i64), 1); break;
      case GgufType::kUint16: uint(v.u64, 2); break;
      case GgufType::kInt16: uint(static_cast<uint64_t>(v.i64), 2); break;
      case GgufType::kUint32: uint(v.u64, 4); break;
      case GgufType::kInt32: uint(static_cast<uint64_t>(v.i64), 4); break;
      case GgufType::kUint64: uint(v.u64, 8); break;
      case GgufType::kInt64: uint(static_cast<uint64_t>(v.i64), 8); break;
      case GgufType::kFloat32: u32(std::bit_cast<uint32_t>(static_cast<float>(v.f64))); break;
      case GgufType::kFloat64: u64(std::bit_cast<uint64_t>(v.f64)); break;
      case GgufType::kString: str(v.str); break;
      case GgufType::kArray:
        u32(static_cast<uint32_t>(v.array_type));
        u64(v.array.size());
        for (const GgufValue& e : v.array) value(e, v.array_type);
        break;
    }
  }

 private:
  std::vector<uint8_t>& out_;
};

GgufValue scalar(GgufType type) {
  GgufValue v;
  v.type = type;
  return v;
}

template <typename T, typename Fill>
GgufValue array_of(GgufType element_type, const std::vector<T>& values, Fill fill) {
  GgufValue v = scalar(GgufType::kArray);
  v.array_type = element_type;
  v.array.reserve(values.size());
  for (const T& x : values) {
    GgufValue e = scalar(element_type);
    fill(e, x);
    v.array.push_back(std::move(e));
  }
  return v;
}

}  // namespace

void GgufWriter::set(std::string key, GgufValue value) {
  if (key == kAlignmentKey && value.type == GgufType::kUint32)
    alignment_ = static_cast<uint32_t>(value.u64);
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::set_string(std::string key, std::string value) {
  GgufValue v = scalar(GgufType::kString);
  v.str = std::move(value);
  set(std::move(key), std::move(v));
}

void GgufWriter::set_u32(std::string key, uint32_t value) {
  GgufValue v = scalar(GgufType::kUint32);
  v.u64 = value;
  set(std::move(key), std::move(v));
}

void GgufWriter::set_i32(std::string key, int32_t value) {
  GgufValue v = scalar(GgufType::kInt32);
  v.i64 = value;
  set(std::move(key), std::move(v));
}

void GgufWriter::set_f32(std::string key, float value) {
  GgufValue v = scalar(GgufType::kFloat32);
  v.f64 = value;
  set(std::move(key), std::move(v));
}

void GgufWriter::set_bool(std::string key, bool value) {
  GgufValue v = scalar(GgufType::kBool);
  v.u64 = value ? 1 : 0;
  set(std::move(key), std::move(v));
}

void GgufWriter::set_string_array(std::string key, const std::vector<std::string>& values) {
  set(std::move(key), array_of(GgufType::kString, values,
                               [](GgufValue& e, const std::string& x) { e.str = x; }));
}

void GgufWriter::set_f32_array(std::string key, const std::vector<float>& values) {
  set(std::move(key),
      array_of(GgufType::kFloat32, values, [](GgufValue& e, float x) { e.f64 = x; }));
}

void GgufWriter::set_i32_array(std::string key, const std::vector<int32_t>& values) {
  set(std::move(key),
      array_of(GgufType::kInt32, values, [](GgufValue& e, int32_t x) { e.i64 = x; }));
}

void GgufWriter::add_tensor(std::string name, core::DType dtype, std::vector<int64_t> shape,
                            std::vector<uint8_t> data) {
  tensors_.push_back(Tensor{std::move(name), dtype, std::move(shape), std::move(data)});
}

void GgufWriter::set_alignment(uint32_t alignment) {
  set_u32(std::string(kAlignmentKey), alignment);
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  ByteSink sink(out);
  sink.u32(kMagic);
  sink.u32(kVersion);
  sink.u64(tensors_.size());
  sink.u64(kv_.size());
  for (const auto& [key, value] : kv_) {
    sink.str(key);
    sink.u32(static_cast<uint32_t>(value.type));
    sink.value(value, value.type);
  }
  const uint64_t step = alignment_ == 0 ? 1 : alignment_;
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    sink.str(t.name);
    sink.u32(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) sink.u64(static_cast<uint64_t>(d));
    sink.u32(static_cast<uint32_t>(t.dtype));
    sink.u64(offset);
    offset = (offset + t.data.size() + step - 1) / step * step;
  }
  sink.pad(alignment_);
  for (const Tensor& t : tensors_) {
    sink.bytes(t.data);
    sink.pad(alignment_);
  }
  return out;
}

core::Status GgufWriter::write(const std::string& path) const {
  const std::vector<uint8_t> bytes = to_bytes();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return core::make_error(core::ErrorCode::kIo, "{}: cannot open for writing: {}", path,
                            std::generic_category().message(errno));
  }
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (written != bytes.size() || !closed) {
    return core::make_error(core::ErrorCode::kIo, "{}: write failed: {}", path,
                            std::generic_category().message(written != bytes.size()
                                                                ? write_errno
                                                                : errno));
  }
  return core::ok_status();
}

}  // namespace sarathi::model
