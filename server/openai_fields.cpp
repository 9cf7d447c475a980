#include "server/openai_fields.h"

#include <fmt/format.h>

#include <cmath>

namespace sarathi::server {
namespace {

/// Deepest [ / { nesting in the raw text, skipping strings.
int max_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      deepest = std::max(deepest, ++depth);
    else if (c == ']' || c == '}')
      --depth;
  }
  return deepest;
}

std::string format_number(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e15) return fmt::format("{}", static_cast<int64_t>(x));
  return fmt::format("{}", x);
}

std::string describe(const NumberRange& r) {
  if (r.max >= 1e300) return fmt::format("{} {}", r.min_open ? ">" : ">=", format_number(r.min));
  return fmt::format("in {}{}, {}{}", r.min_open ? "(" : "[", format_number(r.min),
                     format_number(r.max), r.max_open ? ")" : "]");
}

}  // namespace

ApiResult<nlohmann::json> parse_json_object(std::string_view body) {
  if (body.empty()) return invalid_request("", "the request body is empty", "invalid_json");
  if (max_depth(body) > kMaxJsonDepth)
    return invalid_request("", fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth),
                           "invalid_json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
    std::string what = e.what();
    if (const size_t p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return invalid_request("", "malformed JSON: " + what, "invalid_json");
  }
  if (!j.is_object())
    return invalid_request(
        "", fmt::format("the request body must be a JSON object, got {}", json_type(j)),
        "invalid_json");
  return j;
}

std::string_view json_type(const nlohmann::json& j) {
  if (j.is_string()) return "string";
  if (j.is_number()) return "number";
  if (j.is_boolean()) return "boolean";
  if (j.is_array()) return "array";
  if (j.is_object()) return "object";
  if (j.is_null()) return "null";
  return "value";
}

std::optional<int64_t> json_integer(const nlohmann::json& j, int64_t min, int64_t max) {
  if (j.is_number_integer()) {  // signed or unsigned
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return std::nullopt;
    const auto v = j.get<int64_t>();
    if (v < min || v > max) return std::nullopt;
    return v;
  }
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max) ||
        std::fabs(d) >= 9.2e18)
      return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

FieldReader::FieldReader(const nlohmann::json& obj, std::string prefix)
    : obj_(obj), prefix_(std::move(prefix)) {}

void FieldReader::fail(ApiError e) {
  if (!error_) error_ = std::move(e);
}

const nlohmann::json* FieldReader::get(std::string_view key) const {
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<bool> FieldReader::boolean(std::string_view key) {
  const nlohmann::json* v = failed() ? nullptr : get(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    fail(invalid_request(param(key),
                         fmt::format("'{}' must be a boolean, got {}", param(key), json_type(*v)),
                         "invalid_type"));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::string> FieldReader::string(std::string_view key) {
  const nlohmann::json* v = failed() ? nullptr : get(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(invalid_request(param(key),
                         fmt::format("'{}' must be a string, got {}", param(key), json_type(*v)),
                         "invalid_type"));
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<int64_t> FieldReader::integer(std::string_view key, int64_t min, int64_t max) {
  const nlohmann::json* v = failed() ? nullptr : get(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    fail(invalid_request(param(key),
                         fmt::format("'{}' must be an integer, got {}", param(key), json_type(*v)),
                         "invalid_type"));
    return std::nullopt;
  }
  if (v->is_number_float() && v->get<double>() != std::floor(v->get<double>())) {
    fail(invalid_request(param(key),
                         fmt::format("'{}' must be an integer, got {}", param(key), v->dump()),
                         "invalid_type"));
    return std::nullopt;
  }
  auto i = json_integer(*v, min, max);
  if (!i) {
    const std::string range =
        max == INT64_MAX ? fmt::format(">= {}", min) : fmt::format("in [{}, {}]", min, max);
    fail(invalid_request(param(key),
                         fmt::format("'{}' must be {}, got {}", param(key), range, v->dump())));
  }
  return i;
}

std::optional<double> FieldReader::number(std::string_view key, const NumberRange& range) {
  const nlohmann::json* v = failed() ? nullptr : get(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    fail(invalid_request(param(key),
                         fmt::format("'{}' must be a number, got {}", param(key), json_type(*v)),
                         "invalid_type"));
    return std::nullopt;
  }
  const double x = v->get<double>();
  const bool below = range.min_open ? x <= range.min : x < range.min;
  const bool above = range.max_open ? x >= range.max : x > range.max;
  if (below || above) {
    fail(invalid_request(param(key), fmt::format("'{}' must be {}, got {}", param(key),
                                                 describe(range), v->dump())));
    return std::nullopt;
  }
  return x;
}

}  // namespace sarathi::server
