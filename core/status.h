// core/status.h: Result<T> and Error, the way every user- or file-triggerable failure is reported.
// Depends on nothing but the standard library. Exceptions never cross a layer boundary.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace sarathi::core {

enum class ErrorCode {
  kInvalidArgument,   // a caller or user passed something unusable
  kInvalidFormat,     // a file or message is malformed
  kUnsupported,       // well-formed but not something we implement
  kNotFound,          // a named thing (file, key, tensor) is missing
  kIo,                // the operating system refused (open, mmap, read)
  kOutOfRange,        // a value exceeds a configured limit
  kResourceExhausted, // out of memory / capacity
  kInternal,
};

std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  /// Human-readable "<code>: <message>".
  std::string to_string() const;
};

/// Builds an Error with a fmt-formatted message.
template <typename... Args>
Error make_error(ErrorCode code, fmt::format_string<Args...> fmt_str, Args&&... args) {
  return Error{code, fmt::format(fmt_str, std::forward<Args>(args)...)};
}

/// A value or an Error. Check ok() before value(); value() on an error is a programmer error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}       // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result for operations that produce nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace sarathi::core

/// Propagates an error from an expression yielding Result<T>; otherwise evaluates to nothing.
#define SARATHI_RETURN_IF_ERROR(expr)              \
  do {                                             \
    auto _sarathi_r = (expr);                      \
    if (!_sarathi_r.ok()) return _sarathi_r.error(); \
  } while (0)

#define SARATHI_CONCAT_INNER(a, b) a##b
#define SARATHI_CONCAT(a, b) SARATHI_CONCAT_INNER(a, b)
/// `SARATHI_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value or returns its error.
#define SARATHI_ASSIGN_OR_RETURN(decl, expr)                               \
  auto SARATHI_CONCAT(_sarathi_r_, __LINE__) = (expr);                     \
  if (!SARATHI_CONCAT(_sarathi_r_, __LINE__).ok())                         \
    return SARATHI_CONCAT(_sarathi_r_, __LINE__).error();                  \
  decl = std::move(SARATHI_CONCAT(_sarathi_r_, __LINE__)).value()
