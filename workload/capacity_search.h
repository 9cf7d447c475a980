// workload/capacity_search.h: Sarathi-Serve's capacity, the highest Poisson request rate at
// which P99 TBT stays within the SLO and the median scheduling delay within a bound, found by
// probing rates: doubling (or halving) from a start rate until the outcome flips, then
// bisection to a relative tolerance. The probe (a benchmark run at one rate) is the caller's;
// this file only decides where to probe and what the probes say. Depends on core/ and
// workload/serving_metrics.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "workload/serving_metrics.h"

namespace sarathi::workload {

struct CapacityCriteria {
  double tbt_slo_s = 0;      // P99 TBT must be <= this (> 0)
  double max_delay_s = 2.0;  // median scheduling delay must be <= this (> 0)
};

/// Whether a probe meets the criteria (every request completed, at least one); otherwise
/// `why` (if given) names what failed.
bool meets_criteria(const ServingMetrics& m, const CapacityCriteria& c, std::string* why);

struct CapacitySearchOptions {
  double start_rate = 1.0;      // requests/s of the first probe (> 0)
  double rel_tolerance = 0.05;  // bisection stops when (fail - pass) <= this * pass
  int32_t max_probes = 12;      // probes at most (>= 1)
  double min_rate = 0;          // halving gives up below this (0: start_rate / 16)
};

struct ProbeOutcome {
  double rate = 0;  // requests/s
  ServingMetrics metrics;
  bool pass = false;
  std::string why;  // what failed, for a failing probe
};

struct CapacityResult {
  // The highest passing rate below the lowest failing one; 0 when no probed rate passed.
  double capacity = 0;
  // The lowest failing rate probed; 0 when none failed (capacity is then only a lower bound).
  double lowest_failing_rate = 0;
  std::vector<ProbeOutcome> probes;  // in the order they ran
  std::string stop_reason;           // why the search ended, in words
  std::string error;                 // a probe that could not run (the search stopped there)
};

/// A benchmark run at `rate` requests/s (the same number of requests each time).
using ProbeFn = std::function<core::Result<ServingMetrics>(double rate)>;

/// Searches the capacity. Invalid options or criteria are an error; a probe's error stops the
/// search and is reported in the result's `error`, with what the earlier probes established.
core::Result<CapacityResult> search_capacity(const ProbeFn& probe, const CapacityCriteria& criteria,
                                             const CapacitySearchOptions& options);

/// The capacity the probes establish: the highest passing rate below every failing rate (0 when
/// none). Used by search_capacity; exposed for tests.
double capacity_of(const std::vector<ProbeOutcome>& probes);

}  // namespace sarathi::workload
