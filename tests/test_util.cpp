#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sarathi::testing {

std::optional<std::string> shared_dir() {
  namespace fs = std::filesystem;
  static const std::optional<std::string> dir = []() -> std::optional<std::string> {
    if (const char* env = std::getenv("SARATHI_TEST_DATA"); env && *env) {
      if (fs::is_directory(env)) return std::string(env);
      std::fprintf(stderr, "[ SKIP ] SARATHI_TEST_DATA=%s is not a directory\n", env);
      return std::nullopt;
    }
    const fs::path p = fs::path(SARATHI_SOURCE_DIR).parent_path() / "shared";
    if (fs::is_directory(p / "models")) return p.string();
    std::fprintf(stderr,
                 "[ SKIP ] shared test data not found at %s (set SARATHI_TEST_DATA): tests "
                 "that need the real models are skipped\n",
                 p.string().c_str());
    return std::nullopt;
  }();
  return dir;
}

std::optional<std::string> shared_model(const std::string& file) {
  auto d = shared_dir();
  if (!d) return std::nullopt;
  return *d + "/models/" + file;
}

std::optional<std::string> shared_golden(const std::string& file) {
  auto d = shared_dir();
  if (!d) return std::nullopt;
  return *d + "/golden/" + file;
}

std::string test_data(const std::string& file) {
  return std::string(SARATHI_SOURCE_DIR) + "/tests/data/" + file;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return {};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sarathi::testing
