// tests/test_util.h: helpers shared by the tests: where ../shared is, loading golden JSON.
#pragma once

#include <optional>
#include <string>

namespace sarathi::testing {

/// The shared test data folder: $SARATHI_TEST_DATA if set, else ../shared beside the source
/// tree. nullopt (after printing one clear skip line) when it is absent.
std::optional<std::string> shared_dir();

/// Path of a model in shared/models, or nullopt when shared/ is missing.
std::optional<std::string> shared_model(const std::string& file);

/// Path of a golden JSON file in shared/golden, or nullopt when shared/ is missing.
std::optional<std::string> shared_golden(const std::string& file);

/// Path of a file in the source tree's tests/data (data that travels with the tests).
std::string test_data(const std::string& file);

/// Reads a whole file; aborts the test on failure.
std::string read_file(const std::string& path);

}  // namespace sarathi::testing

/// Skips the current test with a clear message when ../shared is not available.
#define SARATHI_REQUIRE_SHARED(var, expr)                                              \
  auto var##_opt = (expr);                                                             \
  if (!var##_opt) GTEST_SKIP() << "shared test data not found: set SARATHI_TEST_DATA " \
                                  "or place shared/ beside the source tree";           \
  const std::string var = *var##_opt
