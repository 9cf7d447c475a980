// sim/pipeline.h: one replica's pipeline stages under a virtual clock. Micro-batches enter
// stage 0 in launch order and pass the stages in that order (FIFO); a stage starts a
// micro-batch when the previous stage handed it over and the stage finished the one before.
// Busy time is kept per stage; a stage's bubble is the time it sits idle while the replica has
// unfinished requests (pipeline fill and drain and uneven micro-batches alike). Pure arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sarathi::sim {

class Pipeline {
 public:
  explicit Pipeline(int32_t num_stages);

  /// A micro-batch issued at time t: stage 0 starts it at max(t, when stage 0 is free) and runs
  /// it for first_stage_s; each later stage for stage_s, handoff_s after the previous stage
  /// finished it (and once the stage is free). Returns when it leaves the last stage.
  double launch(double t, double first_stage_s, double stage_s, double handoff_s);

  int32_t num_stages() const { return static_cast<int32_t>(free_.size()); }
  /// When stage s finishes the last micro-batch launched.
  double free_at(int32_t s) const { return free_[static_cast<size_t>(s)]; }
  /// Seconds stage s has been busy.
  double busy_s(int32_t s) const { return busy_[static_cast<size_t>(s)]; }

 private:
  std::vector<double> free_, busy_;
};

/// Stage usage over a run: busy seconds per stage and the seconds the replica had unfinished
/// requests (active).
struct StageUsage {
  std::vector<double> busy_s;
  double active_s = 0;

  /// Stage s's idle time while active.
  double bubble_s(size_t s) const;
  /// Idle stage-seconds while active over all stage-seconds while active (0 when never active).
  double bubble_fraction() const;
};

/// Seconds with at least one unfinished request: begin() when the count leaves 0, end() when it
/// returns to 0.
class ActiveClock {
 public:
  void begin(double t) { since_ = t; }
  void end(double t) { total_ += t - since_; }
  double total_s() const { return total_; }

 private:
  double since_ = 0, total_ = 0;
};

}  // namespace sarathi::sim
