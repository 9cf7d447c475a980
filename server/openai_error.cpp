#include "server/openai_error.h"

#include <fmt/format.h>

namespace sarathi::server {

nlohmann::ordered_json to_json(const ApiError& e) {
  auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
  };
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", or_null(e.param)},
            {"code", or_null(e.code)}}}};
}

ApiError invalid_request(std::string param, std::string message, std::string code) {
  return ApiError{.http_status = 400,
                  .message = std::move(message),
                  .param = std::move(param),
                  .code = std::move(code)};
}

ApiError model_not_found(std::string_view model) {
  return ApiError{.http_status = 404,
                  .message = fmt::format("The model `{}` does not exist.", model),
                  .param = "model",
                  .code = "model_not_found"};
}

ApiError context_length_exceeded(std::string param, int64_t prompt_tokens, int64_t max_tokens,
                                 int64_t max_model_len) {
  return ApiError{
      .http_status = 400,
      .message = fmt::format(
          "This model's maximum context length is {} tokens. However, you requested {} tokens "
          "({} in the {}, {} in the completion). Please reduce the length of the {} or completion.",
          max_model_len, prompt_tokens + max_tokens, prompt_tokens, param, max_tokens, param),
      .param = std::move(param),
      .code = "context_length_exceeded"};
}

ApiError invalid_api_key() {
  return ApiError{.http_status = 401,
                  .message = "Incorrect or missing API key (send: Authorization: Bearer <key>).",
                  .code = "invalid_api_key"};
}

}  // namespace sarathi::server
