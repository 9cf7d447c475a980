// cli/sim_report.h: `simulate --report FILE.html`: one self-contained page (inline SVG, no
// scripts) with the run's settings, a table per policy, latency CDFs (TTFT and TBT), batch
// composition over time (prefill and decode tokens per step of the first replica), per-stage
// pipeline bubbles, and with --capacity the capacity per policy and bench capacity's P99 TBT /
// TTFT curves. Depends on cli/capacity_report.h and sim/simulator.h.
#pragma once

#include <string>
#include <vector>

#include "cli/capacity_report.h"
#include "sim/simulator.h"

namespace sarathi::cli {

/// One policy's simulated run, as the report draws it.
struct SimPolicyReport {
  std::string policy;
  std::vector<double> ttft_s;          // per completed request
  std::vector<double> tbt_s;           // every gap between tokens (may be a sample of them)
  std::vector<sim::StepRecord> steps;  // of replica 0
  std::vector<double> stage_bubble;    // per stage: idle fraction while requests were in, mean
                                       // over replicas
  std::vector<std::pair<std::string, std::string>> figures;  // table rows (name, value)
};

struct SimReport {
  std::string title;
  std::vector<std::string> settings;  // one line each
  std::vector<SimPolicyReport> policies;
  const CapacityRun* capacity = nullptr;  // with --capacity
};

/// The HTML page.
std::string render_sim_report(const SimReport& report);

}  // namespace sarathi::cli
