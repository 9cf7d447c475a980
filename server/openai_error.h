// server/openai_error.h: ApiError (an HTTP status plus OpenAI's error object) and ApiResult<T>,
// the value-or-ApiError each request parser returns. Depends on core/ and nlohmann_json only.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/status.h"

namespace sarathi::server {

/// A request the server refuses: rendered as {"error": {"message", "type", "param", "code"}}.
/// Validation failures are 400 invalid_request_error, as in vLLM and OpenAI. `code` is a short
/// machine-readable reason (invalid_json, invalid_type, invalid_value, missing_required_parameter,
/// unsupported_parameter); empty param or code render as null.
struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;
  std::string code;
};

/// OpenAI's error body for e.
nlohmann::ordered_json to_json(const ApiError& e);

/// A 400 invalid_request_error about `param`.
ApiError invalid_request(std::string param, std::string message,
                         std::string code = "invalid_value");

/// 404 model_not_found for a request naming a model this server does not serve.
ApiError model_not_found(std::string_view model);

/// 400 context_length_exceeded: the prompt plus the tokens to generate do not fit. `param` is
/// "prompt" or "messages".
ApiError context_length_exceeded(std::string param, int64_t prompt_tokens, int64_t max_tokens,
                                 int64_t max_model_len);

/// 401 invalid_api_key for a missing or wrong bearer token.
ApiError invalid_api_key();

/// A value or an ApiError; works with SARATHI_ASSIGN_OR_RETURN / SARATHI_RETURN_IF_ERROR.
template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  ApiResult(ApiError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  /// As core::Result: check ok() before value(); error() only when !ok().
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

using ApiStatus = ApiResult<core::Ok>;

}  // namespace sarathi::server
