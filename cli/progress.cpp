#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace sarathi::cli {

Progress::Progress(std::string label) : label_(std::move(label)), tty_(isatty(2) != 0) {}

Progress::~Progress() {
  if (tty_ && last_percent_ >= 0) std::fprintf(stderr, "\n");
}

void Progress::update(uint64_t done, uint64_t total) {
  if (!tty_ || total == 0) return;
  const int percent = static_cast<int>(done * 100 / total);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 30;
  const int filled = percent * kWidth / 100;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r%s [%s] %3d%%", label_.c_str(), bar.c_str(), percent);
  std::fflush(stderr);
}

}  // namespace sarathi::cli
