// workload/workload.h: benchmark workloads: request prompt/output lengths (fixed, uniform
// around a mean, or from a CSV file) and arrival times (all at t=0 or a Poisson process).
// Deterministic from a seed. Depends on core/ only.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/status.h"

namespace sarathi::workload {

struct RequestSpec {
  double arrival_s = 0;    // seconds after the start of the run
  int32_t input_len = 0;   // prompt tokens
  int32_t output_len = 0;  // generated tokens (honoured exactly)
};

struct WorkloadOptions {
  int32_t num_prompts = 32;
  int32_t input_len = 512;
  int32_t output_len = 128;
  double range_ratio = 0.0;   // lengths uniform in [len*(1-r), len*(1+r)] (vLLM's random dataset)
  std::string dataset;        // CSV of "input_len,output_len" rows (header optional); overrides
                              // the lengths above, cycled or truncated to num_prompts
  double request_rate = std::numeric_limits<double>::infinity();  // requests/s; inf: all at t=0
  uint64_t seed = 0;
};

/// The requests of a workload, in arrival order.
core::Result<std::vector<RequestSpec>> make_workload(const WorkloadOptions& options);

/// Parses "input_len,output_len" rows; blank lines and a non-numeric first row (a header) are
/// skipped; anything else malformed is an error naming the line.
core::Result<std::vector<RequestSpec>> parse_length_csv(const std::string& text,
                                                        const std::string& name);

}  // namespace sarathi::workload
