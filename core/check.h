// core/check.h: SARATHI_CHECK (always on) and SARATHI_DCHECK (debug only) for programmer errors
// inside kernels, kv/ and sched/. Never use them for anything a user or a file can trigger.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace sarathi::core {
[[noreturn]] void check_failed(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace sarathi::core

#define SARATHI_CHECK(cond, ...)                                                             \
  do {                                                                                       \
    if (!(cond)) [[unlikely]]                                                                \
      ::sarathi::core::check_failed(__FILE__, __LINE__, #cond, ::fmt::format("" __VA_ARGS__)); \
  } while (0)

#ifdef NDEBUG
#define SARATHI_DCHECK(cond, ...) \
  do {                            \
  } while (0)
#else
#define SARATHI_DCHECK(cond, ...) SARATHI_CHECK(cond, __VA_ARGS__)
#endif
