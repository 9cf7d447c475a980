// server/openai_fields.h: typed, range-checked reads of JSON request fields that stop at the
// first violation with an ApiError naming the parameter. Internal to server/openai_*;
// depends on nlohmann_json and openai_error.h only.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "server/openai_error.h"

namespace sarathi::server {

/// Deepest JSON nesting a request body may have (bounds every recursive walk downstream).
inline constexpr int kMaxJsonDepth = 64;

/// Parses a request body that must be one JSON object (400 otherwise).
ApiResult<nlohmann::json> parse_json_object(std::string_view body);

/// JSON type name for messages: "string", "number", "boolean", "array", "object", "null".
std::string_view json_type(const nlohmann::json& j);

struct NumberRange {
  double min = -1e300;
  double max = 1e300;
  bool min_open = false;  // min itself is excluded
  bool max_open = false;
};

/// Reads fields of one JSON object. Absent and null fields read as nullopt; once a read fails,
/// failed() is true, error() names the first violation and later reads return nullopt.
class FieldReader {
 public:
  /// `prefix` is prepended to parameter names in errors ("stream_options.").
  explicit FieldReader(const nlohmann::json& obj, std::string prefix = "");

  /// Whether a read failed, and the first failure.
  bool failed() const { return error_.has_value(); }
  const ApiError& error() const { return *error_; }
  /// Records an error unless one is already recorded.
  void fail(ApiError e);
  /// The full parameter name of `key`.
  std::string param(std::string_view key) const { return prefix_ + std::string(key); }

  /// The field's value when present and not null.
  const nlohmann::json* get(std::string_view key) const;
  /// Typed reads; a value of another JSON type records an invalid_type error.
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::string> string(std::string_view key);
  /// Integers; an integral float (5.0) counts, as in JSON and pydantic; strings do not.
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max);
  /// A number within `range`; outside it records an invalid_value error.
  std::optional<double> number(std::string_view key, const NumberRange& range);

 private:
  const nlohmann::json& obj_;
  std::string prefix_;
  std::optional<ApiError> error_;
};

/// Reads j as an integer in [min, max] (integral floats included); nullopt if it is not one.
std::optional<int64_t> json_integer(const nlohmann::json& j, int64_t min, int64_t max);

}  // namespace sarathi::server
