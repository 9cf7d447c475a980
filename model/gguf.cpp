// model/gguf.cpp: the GGUF (v2/v3) parser behind GgufFile::open and GgufFile::parse.
// One bounds-checked cursor reads the whole header; every count and length is checked against
// GgufLimits and against the bytes that remain before anything is allocated.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <system_error>
#include <utility>

#include "model/gguf.h"

namespace sarathi::model {
namespace {

using core::ErrorCode;

constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kLastValueType = static_cast<uint32_t>(GgufType::kFloat64);
// The smallest possible metadata entry (empty key, type, one-byte value) and tensor info
// (empty name, n_dims = 1, one dim, type, offset): used to bound counts by the bytes left.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
constexpr std::string_view kAlignmentKey = "general.alignment";

/// Bytes a fixed-size value of type t occupies in the file; 0 for strings and arrays.
uint64_t scalar_bytes(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool: return 1;
    case GgufType::kUint16:
    case GgufType::kInt16: return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32: return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64: return 8;
    case GgufType::kString:
    case GgufType::kArray: return 0;
  }
  return 0;
}

/// The fewest bytes one array element of type t can occupy (a string is at least its length,
/// an array at least its element type and count).
uint64_t min_element_bytes(GgufType t) {
  if (t == GgufType::kString) return 8;
  if (t == GgufType::kArray) return 4 + 8;
  return scalar_bytes(t);
}

bool is_integer_type(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kUint16:
    case GgufType::kInt16:
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kUint64:
    case GgufType::kInt64: return true;
    default: return false;
  }
}

bool is_unsigned_type(GgufType t) {
  return t == GgufType::kUint8 || t == GgufType::kUint16 || t == GgufType::kUint32 ||
         t == GgufType::kUint64;
}

bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

uint64_t align_up(uint64_t x, uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

/// "string", or "array of uint32" for arrays: names the type of a value in messages.
std::string describe_type(const GgufValue& v) {
  if (v.type != GgufType::kArray) return std::string(gguf_type_name(v.type));
  return fmt::format("array of {}", gguf_type_name(v.array_type));
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const { return is_integer_type(type); }

bool GgufValue::is_float() const {
  return type == GgufType::kFloat32 || type == GgufType::kFloat64;
}

// ---------------------------------------------------------------------------------------------
// The parser: a cursor over the bytes plus the checks. Friend of GgufFile, fills it in place.

class GgufParser {
 public:
  GgufParser(std::span<const uint8_t> bytes, const GgufLimits& limits, GgufFile& file)
      : bytes_(bytes), limits_(limits), file_(file) {}

  /// Parses header, metadata and tensor infos and places the tensors in the data section.
  core::Status run() {
    uint64_t num_tensors = 0;
    uint64_t num_kv = 0;
    SARATHI_RETURN_IF_ERROR(read_header(num_tensors, num_kv));
    SARATHI_RETURN_IF_ERROR(read_metadata(num_kv));
    SARATHI_RETURN_IF_ERROR(read_alignment());
    SARATHI_RETURN_IF_ERROR(read_tensor_infos(num_tensors));
    return place_tensors();
  }

 private:
  template <typename... Args>
  core::Error fail(ErrorCode code, fmt::format_string<Args...> fmt_str, Args&&... args) const {
    return core::Error{code, fmt::format("{}: {}", file_.name_,
                                         fmt::format(fmt_str, std::forward<Args>(args)...))};
  }

  uint64_t remaining() const { return bytes_.size() - pos_; }

  core::Error truncated(std::string_view what, const std::string& context,
                        uint64_t need) const {
    return fail(ErrorCode::kInvalidFormat,
                "truncated {}{} at byte {} (needs {} bytes, {} left)", what, context, pos_,
                need, remaining());
  }

  /// Reads an unsigned little-endian integer of `n` bytes (n <= 8).
  core::Result<uint64_t> read_uint(uint64_t n, std::string_view what,
                                   const std::string& context) {
    if (remaining() < n) return truncated(what, context, n);
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; ++i) x |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
    pos_ += n;
    return x;
  }

  core::Result<uint32_t> read_u32(std::string_view what, const std::string& context) {
    SARATHI_ASSIGN_OR_RETURN(uint64_t x, read_uint(4, what, context));
    return static_cast<uint32_t>(x);
  }

  core::Result<std::string> read_string(std::string_view what, const std::string& context) {
    SARATHI_ASSIGN_OR_RETURN(uint64_t len, read_uint(8, what, context));
    if (len > limits_.max_string_bytes) {
      return fail(ErrorCode::kOutOfRange, "{}{} has length {}, which exceeds the limit {}", what,
                  context, len, limits_.max_string_bytes);
    }
    if (len > remaining()) return truncated(what, context, len);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return s;
  }

  core::Status read_header(uint64_t& num_tensors, uint64_t& num_kv) {
    if (bytes_.size() < sizeof(kMagic)) return truncated("header", "", sizeof(kMagic));
    if (std::memcmp(bytes_.data(), kMagic, sizeof(kMagic)) != 0) {
      return fail(ErrorCode::kInvalidFormat,
                  "bad magic {:02x} {:02x} {:02x} {:02x} (expected \"GGUF\"): not a GGUF file",
                  bytes_[0], bytes_[1], bytes_[2], bytes_[3]);
    }
    pos_ = sizeof(kMagic);
    SARATHI_ASSIGN_OR_RETURN(file_.version_, read_u32("header", " (version)"));
    if (file_.version_ != 2 && file_.version_ != 3) {
      const bool swapped = (file_.version_ & 0xffffu) == 0 && (file_.version_ >> 16) != 0;
      return fail(ErrorCode::kUnsupported, "unsupported GGUF version {}{}", file_.version_,
                  swapped ? " (a big-endian file?)" : "");
    }
    SARATHI_ASSIGN_OR_RETURN(num_tensors, read_uint(8, "header", " (tensor count)"));
    SARATHI_ASSIGN_OR_RETURN(num_kv, read_uint(8, "header", " (metadata count)"));
    if (num_tensors > limits_.max_tensors) {
      return fail(ErrorCode::kOutOfRange, "tensor count {} exceeds the limit {}", num_tensors,
                  limits_.max_tensors);
    }
    if (num_kv > limits_.max_kv) {
      return fail(ErrorCode::kOutOfRange, "metadata count {} exceeds the limit {}", num_kv,
                  limits_.max_kv);
    }
    const uint64_t left = remaining();
    if (num_kv > left / kMinKvBytes ||
        num_tensors > (left - num_kv * kMinKvBytes) / kMinTensorInfoBytes) {
      return fail(ErrorCode::kInvalidFormat,
                  "truncated file: the header announces {} metadata entries and {} tensors but "
                  "only {} bytes follow",
                  num_kv, num_tensors, left);
    }
    return core::ok_status();
  }

  core::Status read_metadata(uint64_t num_kv) {
    file_.kv_.reserve(num_kv);
    for (uint64_t i = 0; i < num_kv; ++i) {
      SARATHI_ASSIGN_OR_RETURN(std::string key,
                               read_string("metadata key", fmt::format(" {}", i)));
      const std::string context = fmt::format(" of key {}", key);
      SARATHI_ASSIGN_OR_RETURN(GgufType type, read_type("value type", context));
      GgufValue value;
      SARATHI_RETURN_IF_ERROR(read_value(value, type, 0, context));
      if (!file_.kv_index_.emplace(key, file_.kv_.size()).second)
        return fail(ErrorCode::kInvalidFormat, "duplicate key {}", key);
      file_.kv_.emplace_back(std::move(key), std::move(value));
    }
    return core::ok_status();
  }

  core::Result<GgufType> read_type(std::string_view what, const std::string& context) {
    SARATHI_ASSIGN_OR_RETURN(uint32_t id, read_u32(what, context));
    if (id > kLastValueType)
      return fail(ErrorCode::kInvalidFormat, "unknown metadata value type {}{}", id, context);
    return static_cast<GgufType>(id);
  }

  /// Reads one value of `type` into `v`; `depth` is the number of arrays it is nested in.
  /// (Filling in place rather than returning a Result keeps big arrays cheap to read.)
  core::Status read_value(GgufValue& v, GgufType type, uint32_t depth,
                          const std::string& context) {
    v.type = type;
    switch (type) {
      case GgufType::kUint8:
      case GgufType::kUint16:
      case GgufType::kUint32:
      case GgufType::kUint64: {
        SARATHI_ASSIGN_OR_RETURN(v.u64, read_uint(scalar_bytes(type), "value", context));
        break;
      }
      case GgufType::kInt8:
      case GgufType::kInt16:
      case GgufType::kInt32:
      case GgufType::kInt64: {
        const uint64_t n = scalar_bytes(type);
        SARATHI_ASSIGN_OR_RETURN(uint64_t raw, read_uint(n, "value", context));
        const int shift = static_cast<int>(64 - 8 * n);  // sign-extend from n bytes
        v.i64 = static_cast<int64_t>(raw << shift) >> shift;
        break;
      }
      case GgufType::kFloat32: {
        SARATHI_ASSIGN_OR_RETURN(uint64_t raw, read_uint(4, "value", context));
        v.f64 = std::bit_cast<float>(static_cast<uint32_t>(raw));
        break;
      }
      case GgufType::kFloat64: {
        SARATHI_ASSIGN_OR_RETURN(uint64_t raw, read_uint(8, "value", context));
        v.f64 = std::bit_cast<double>(raw);
        break;
      }
      case GgufType::kBool: {
        SARATHI_ASSIGN_OR_RETURN(v.u64, read_uint(1, "value", context));
        if (v.u64 > 1) {
          return fail(ErrorCode::kInvalidFormat, "bool value {}{} is not 0 or 1", v.u64,
                      context);
        }
        break;
      }
      case GgufType::kString: {
        SARATHI_ASSIGN_OR_RETURN(v.str, read_string("string", context));
        break;
      }
      case GgufType::kArray: return read_array(v, depth + 1, context);
    }
    return core::ok_status();
  }

  core::Status read_array(GgufValue& v, uint32_t depth, const std::string& context) {
    if (depth > limits_.max_array_depth) {
      return fail(ErrorCode::kOutOfRange, "arrays{} are nested deeper than the limit {}",
                  context, limits_.max_array_depth);
    }
    SARATHI_ASSIGN_OR_RETURN(v.array_type, read_type("array element type", context));
    SARATHI_ASSIGN_OR_RETURN(uint64_t count, read_uint(8, "array length", context));
    if (count > limits_.max_array_elements) {
      return fail(ErrorCode::kOutOfRange, "array{} has {} elements, which exceeds the limit {}",
                  context, count, limits_.max_array_elements);
    }
    if (count > remaining() / min_element_bytes(v.array_type)) {
      return fail(ErrorCode::kInvalidFormat,
                  "truncated array{}: {} elements of type {} cannot fit in the {} bytes left",
                  context, count, gguf_type_name(v.array_type), remaining());
    }
    v.array.resize(count);
    for (GgufValue& element : v.array)
      SARATHI_RETURN_IF_ERROR(read_value(element, v.array_type, depth, context));
    return core::ok_status();
  }

  core::Status read_alignment() {
    const GgufValue* v = file_.find(kAlignmentKey);
    if (v == nullptr) return core::ok_status();
    if (v->type != GgufType::kUint32) {
      return fail(ErrorCode::kInvalidFormat, "{} has type {}, expected uint32", kAlignmentKey,
                  describe_type(*v));
    }
    if (!is_power_of_two(v->u64)) {
      return fail(ErrorCode::kInvalidFormat, "{} {} is not a nonzero power of two",
                  kAlignmentKey, v->u64);
    }
    file_.alignment_ = v->u64;
    return core::ok_status();
  }

  core::Status read_tensor_infos(uint64_t num_tensors) {
    file_.tensors_.reserve(num_tensors);
    for (uint64_t i = 0; i < num_tensors; ++i) {
      SARATHI_ASSIGN_OR_RETURN(GgufTensorInfo info, read_tensor_info(i));
      if (!file_.tensor_index_.emplace(info.name, file_.tensors_.size()).second)
        return fail(ErrorCode::kInvalidFormat, "duplicate tensor name {}", info.name);
      file_.tensors_.push_back(std::move(info));
    }
    return core::ok_status();
  }

  core::Result<GgufTensorInfo> read_tensor_info(uint64_t idx) {
    GgufTensorInfo t;
    SARATHI_ASSIGN_OR_RETURN(t.name, read_string("tensor name", fmt::format(" {}", idx)));
    const std::string context = fmt::format(" of tensor {}", t.name);
    SARATHI_ASSIGN_OR_RETURN(uint32_t num_dims, read_u32("dimension count", context));
    if (num_dims == 0 || num_dims > limits_.max_dims) {
      return fail(ErrorCode::kInvalidFormat, "tensor {} has {} dimensions (must be 1 to {})",
                  t.name, num_dims, limits_.max_dims);
    }
    t.shape.reserve(num_dims);
    int64_t num_elements = 1;
    for (uint32_t d = 0; d < num_dims; ++d) {
      SARATHI_ASSIGN_OR_RETURN(uint64_t dim, read_uint(8, "dimensions", context));
      if (dim == 0)
        return fail(ErrorCode::kInvalidFormat, "dimension {} of tensor {} is 0", d, t.name);
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return fail(ErrorCode::kInvalidFormat,
                    "dimension {} of tensor {} is negative or too large ({})", d, t.name, dim);
      }
      t.shape.push_back(static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(num_elements, t.shape.back(), &num_elements)) {
        return fail(ErrorCode::kInvalidFormat, "element count of tensor {} overflows int64",
                    t.name);
      }
    }
    t.num_elements = num_elements;
    SARATHI_ASSIGN_OR_RETURN(uint32_t ggml_type, read_u32("type", context));
    SARATHI_ASSIGN_OR_RETURN(t.offset, read_uint(8, "data offset", context));
    SARATHI_ASSIGN_OR_RETURN(t.dtype, check_type(t, ggml_type));
    SARATHI_RETURN_IF_ERROR(compute_num_bytes(t));
    if (t.offset % file_.alignment_ != 0) {
      return fail(ErrorCode::kInvalidFormat,
                  "data offset {} of tensor {} is not a multiple of the alignment {}", t.offset,
                  t.name, file_.alignment_);
    }
    return t;
  }

  core::Result<core::DType> check_type(const GgufTensorInfo& t, uint32_t ggml_type) const {
    if (auto dtype = core::dtype_from_ggml(ggml_type)) return *dtype;
    const std::string_view type_name = core::ggml_type_name(ggml_type);
    if (type_name == "unknown") {
      return fail(ErrorCode::kUnsupported, "unsupported tensor type {} in tensor {}", ggml_type,
                  t.name);
    }
    return fail(ErrorCode::kUnsupported, "unsupported tensor type {} in tensor {}", type_name,
                t.name);
  }

  core::Status compute_num_bytes(GgufTensorInfo& t) const {
    const int64_t block_size = core::dtype_block_size(t.dtype);
    if (t.shape[0] % block_size != 0) {
      return fail(ErrorCode::kInvalidFormat,
                  "row size {} of tensor {} is not a multiple of the block size {} of {}",
                  t.shape[0], t.name, block_size, core::dtype_name(t.dtype));
    }
    // The row length divides the element count, so the block count is exact.
    const uint64_t num_blocks = static_cast<uint64_t>(t.num_elements / block_size);
    if (__builtin_mul_overflow(num_blocks, uint64_t{core::dtype_block_bytes(t.dtype)},
                               &t.num_bytes))
      return fail(ErrorCode::kInvalidFormat, "byte size of tensor {} overflows", t.name);
    return core::ok_status();
  }

  /// Finds the data section and checks that every tensor lies inside it, without overlaps.
  core::Status place_tensors() {
    auto& tensors = file_.tensors_;
    if (tensors.empty()) return core::ok_status();
    const uint64_t data_start = align_up(pos_, file_.alignment_);
    const uint64_t data_bytes = data_start <= bytes_.size() ? bytes_.size() - data_start : 0;
    for (auto& t : tensors) {
      if (t.offset > data_bytes || t.num_bytes > data_bytes - t.offset) {
        return fail(ErrorCode::kInvalidFormat,
                    "data of tensor {} (offset {}, {} bytes) lies outside the file (the data "
                    "section holds {} bytes from byte {})",
                    t.name, t.offset, t.num_bytes, data_bytes, data_start);
      }
      t.data = bytes_.data() + data_start + t.offset;
    }
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      const GgufTensorInfo& prev = tensors[order[i - 1]];
      const GgufTensorInfo& next = tensors[order[i]];
      if (prev.offset + prev.num_bytes > next.offset) {
        return fail(ErrorCode::kInvalidFormat, "data of tensors {} and {} overlap", prev.name,
                    next.name);
      }
    }
    return core::ok_status();
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  const GgufLimits& limits_;
  GgufFile& file_;
};

// ---------------------------------------------------------------------------------------------
// GgufFile

core::Result<std::unique_ptr<GgufFile>> GgufFile::parse(std::span<const uint8_t> bytes,
                                                        std::string name,
                                                        const GgufLimits& limits) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->name_ = std::move(name);
  SARATHI_RETURN_IF_ERROR(GgufParser(bytes, limits, *file).run());
  return file;
}

core::Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path,
                                                       const GgufLimits& limits) {
  auto os_error = [&](ErrorCode code, std::string_view what) {
    return core::make_error(code, "{}: {}: {}", path, what,
                            std::generic_category().message(errno));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, "open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    core::Error e = os_error(ErrorCode::kIo, "stat");
    ::close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return core::make_error(ErrorCode::kIo, "{}: not a regular file", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      core::Error e = os_error(ErrorCode::kIo, "mmap");
      ::close(fd);
      return e;
    }
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  auto result = parse({static_cast<const uint8_t*>(addr), size}, path, limits);
  if (!result.ok()) {
    if (addr != nullptr) ::munmap(addr, size);
    return result.error();
  }
  (*result)->map_addr_ = addr;
  (*result)->map_bytes_ = size;
  return result;
}

GgufFile::~GgufFile() {
  if (map_addr_ != nullptr) ::munmap(map_addr_, map_bytes_);
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------------------------
// Typed getters

namespace {

core::Result<const GgufValue*> lookup(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) return core::make_error(ErrorCode::kNotFound, "{}: missing key {}", f.name(), key);
  return v;
}

core::Error wrong_type(const GgufFile& f, std::string_view key, const GgufValue& v,
                       std::string_view expected) {
  return core::make_error(ErrorCode::kInvalidFormat, "{}: key {} has type {}, expected {}",
                          f.name(), key, describe_type(v), expected);
}

/// An integer value as int64; unsigned values above INT64_MAX are an error.
core::Result<int64_t> to_int64(const GgufFile& f, std::string_view key, const GgufValue& v) {
  if (!is_unsigned_type(v.type)) return v.i64;
  if (v.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return core::make_error(ErrorCode::kOutOfRange, "{}: key {} value {} does not fit in int64",
                            f.name(), key, v.u64);
  }
  return static_cast<int64_t>(v.u64);
}

core::Result<const GgufValue*> lookup_array(const GgufFile& f, std::string_view key,
                                            std::string_view expected) {
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup(f, key));
  if (v->type != GgufType::kArray) return wrong_type(f, key, *v, expected);
  return v;
}

}  // namespace

core::Result<std::string> GgufFile::get_string(std::string_view key) const {
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
  if (v->type != GgufType::kString) return wrong_type(*this, key, *v, "string");
  return v->str;
}

core::Result<int64_t> GgufFile::get_int(std::string_view key) const {
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
  if (!v->is_integer()) return wrong_type(*this, key, *v, "an integer");
  return to_int64(*this, key, *v);
}

core::Result<double> GgufFile::get_float(std::string_view key) const {
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
  if (v->is_float()) return v->f64;
  if (!v->is_integer()) return wrong_type(*this, key, *v, "a float or an integer");
  if (is_unsigned_type(v->type)) return static_cast<double>(v->u64);
  return static_cast<double>(v->i64);
}

core::Result<bool> GgufFile::get_bool(std::string_view key) const {
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
  if (v->type != GgufType::kBool) return wrong_type(*this, key, *v, "bool");
  return v->u64 != 0;
}

core::Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  constexpr std::string_view kExpected = "array of string";
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup_array(*this, key, kExpected));
  if (v->array_type != GgufType::kString) return wrong_type(*this, key, *v, kExpected);
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const GgufValue& e : v->array) out.push_back(e.str);
  return out;
}

core::Result<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  constexpr std::string_view kExpected = "array of float32 or float64";
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup_array(*this, key, kExpected));
  if (v->array_type != GgufType::kFloat32 && v->array_type != GgufType::kFloat64)
    return wrong_type(*this, key, *v, kExpected);
  std::vector<float> out;
  out.reserve(v->array.size());
  for (const GgufValue& e : v->array) out.push_back(static_cast<float>(e.f64));
  return out;
}

core::Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  constexpr std::string_view kExpected = "array of integers";
  SARATHI_ASSIGN_OR_RETURN(const GgufValue* v, lookup_array(*this, key, kExpected));
  if (!is_integer_type(v->array_type)) return wrong_type(*this, key, *v, kExpected);
  std::vector<int64_t> out;
  out.reserve(v->array.size());
  for (const GgufValue& e : v->array) {
    SARATHI_ASSIGN_OR_RETURN(int64_t x, to_int64(*this, key, e));
    out.push_back(x);
  }
  return out;
}

}  // namespace sarathi::model
