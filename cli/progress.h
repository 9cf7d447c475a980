// cli/progress.h: a one-line progress bar on stderr, shown only when stderr is a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace sarathi::cli {

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void update(uint64_t done, uint64_t total);

 private:
  std::string label_;
  bool tty_;
  int last_percent_ = -1;
};

}  // namespace sarathi::cli
