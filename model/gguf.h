// model/gguf.h: reading GGUF files (versions 2 and 3) through mmap with zero-copy tensor views,
// and writing them (test fixtures, synthetic models). Every malformed input yields a
// core::Error naming the file and the problem; nothing here reads out of bounds or aborts.
// Depends on core/ only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace sarathi::model {

/// GGUF metadata value types, numbered as in the file format.
enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
std::string_view gguf_type_name(GgufType t);

/// One metadata value. Scalars live in the matching field; arrays (possibly nested) in `array`
/// with `array_type` naming the element type.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  uint64_t u64 = 0;   // kUint8/16/32/64 and kBool (0/1)
  int64_t i64 = 0;    // kInt8/16/32/64
  double f64 = 0;     // kFloat32/kFloat64
  std::string str;    // kString
  GgufType array_type = GgufType::kUint8;
  std::vector<GgufValue> array;  // kArray

  bool is_integer() const;
  bool is_float() const;
};

struct GgufTensorInfo {
  std::string name;
  core::DType dtype = core::DType::kF32;
  std::vector<int64_t> shape;   // GGML order: shape[0] (ne0) is the contiguous dimension
  int64_t num_elements = 0;
  uint64_t offset = 0;          // relative to the start of the data section
  uint64_t num_bytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping; valid while the GgufFile lives
};

/// Limits that guard against absurd headers before anything is allocated.
struct GgufLimits {
  uint64_t max_tensors = 1u << 20;
  uint64_t max_kv = 1u << 20;
  uint64_t max_string_bytes = 1u << 26;   // 64 MiB
  uint64_t max_array_elements = 1u << 26;
  uint32_t max_array_depth = 8;
  uint32_t max_dims = 4;
};

class GgufFile {
 public:
  /// Maps and parses a file. Tensor data types sarathi does not support are an error
  /// ("unsupported tensor type X in tensor Y").
  static core::Result<std::unique_ptr<GgufFile>> open(const std::string& path,
                                                      const GgufLimits& limits = {});
  /// Parses bytes already in memory (the caller keeps them alive as long as the result).
  /// `name` stands for the file name in error messages.
  static core::Result<std::unique_ptr<GgufFile>> parse(std::span<const uint8_t> bytes,
                                                       std::string name,
                                                       const GgufLimits& limits = {});
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }

  /// Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters: an error names the file and key if it is missing or of the wrong type.
  core::Result<std::string> get_string(std::string_view key) const;
  core::Result<int64_t> get_int(std::string_view key) const;     // any integer type
  core::Result<double> get_float(std::string_view key) const;    // f32/f64 or any integer
  core::Result<bool> get_bool(std::string_view key) const;
  core::Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  core::Result<std::vector<float>> get_float_array(std::string_view key) const;
  core::Result<std::vector<int64_t>> get_int_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  friend class GgufParser;

  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  void* map_addr_ = nullptr;  // owned mmap (open()), or null (parse())
  size_t map_bytes_ = 0;
};

/// Builds GGUF (version 3) files in memory: metadata in insertion order, tensors aligned.
class GgufWriter {
 public:
  void set(std::string key, GgufValue value);
  void set_string(std::string key, std::string value);
  void set_u32(std::string key, uint32_t value);
  void set_i32(std::string key, int32_t value);
  void set_f32(std::string key, float value);
  void set_bool(std::string key, bool value);
  void set_string_array(std::string key, const std::vector<std::string>& values);
  void set_f32_array(std::string key, const std::vector<float>& values);
  void set_i32_array(std::string key, const std::vector<int32_t>& values);
  /// Adds a tensor; `data` must hold exactly the bytes of shape in dtype.
  void add_tensor(std::string name, core::DType dtype, std::vector<int64_t> shape,
                  std::vector<uint8_t> data);
  void set_alignment(uint32_t alignment);  // also written as general.alignment

  std::vector<uint8_t> to_bytes() const;
  core::Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    core::DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace sarathi::model
