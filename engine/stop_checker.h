// engine/stop_checker.h: stop strings over streamed text. Holds back any tail that could still
// become a stop string, so a partial stop string never leaks into the stream, and cuts the
// text where a stop string begins. Depends on nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sarathi::engine {

class StopChecker {
 public:
  explicit StopChecker(std::vector<std::string> stops);

  /// Appends newly decoded text; returns the text that is now safe to emit. After a stop
  /// string appears, returns the text before it and stopped() becomes true.
  std::string push(std::string_view text);
  /// Releases held-back text at the end of generation (when no stop string matched).
  std::string flush();

  bool stopped() const { return stopped_; }
  /// The stop string that matched (empty if none).
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  std::string matched_;
  bool stopped_ = false;
};

}  // namespace sarathi::engine
