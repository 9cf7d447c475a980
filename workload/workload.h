// workload/workload.h: benchmark workloads: request prompt/output lengths (fixed, uniform or
// Zipf around a mean, or from a CSV file: plain length pairs or Vidur's processed traces) and
// arrival times (all at t=0, a Poisson or gamma process, or the trace's own times).
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
  // Arrivals at a finite request_rate: "poisson" (exponential gaps) or "gamma" (gamma gaps of
  // mean 1/rate and coefficient of variation arrival_cv: > 1 bursty, < 1 regular, 1 Poisson);
  // "trace": the dataset's arrived_at column (Vidur's traces), divided by trace_time_scale, the
  // trace repeated after its last arrival when num_prompts exceeds it (request_rate unused).
  std::string arrival = "poisson";
  double arrival_cv = 1.0;
  double trace_time_scale = 1.0;
  // Drawn lengths: "uniform" in [len*(1-r), len*(1+r)] (range_ratio r; 0: fixed) or "zipf" over
  // the same range, P(lo + k) proportional to (k + 1)^-zipf_theta (short lengths most frequent).
  std::string length_dist = "uniform";
  double zipf_theta = 0.6;
};

/// The requests of a workload, in arrival order.
core::Result<std::vector<RequestSpec>> make_workload(const WorkloadOptions& options);

/// Parses "input_len,output_len" rows; blank lines and a non-numeric first row (a header) are
/// skipped; anything else malformed is an error naming the line.
core::Result<std::vector<RequestSpec>> parse_length_csv(const std::string& text,
                                                        const std::string& name);

/// A dataset file's requests: Vidur's processed traces (a header naming num_prefill_tokens and
/// num_decode_tokens, and arrived_at in seconds when the trace has arrival times; rows with a
/// count below 1 are dropped) or else parse_length_csv's pairs (arrival 0). `has_arrivals`
/// tells whether arrival_s came from the file.
struct Dataset {
  std::vector<RequestSpec> requests;
  bool has_arrivals = false;
};
core::Result<Dataset> parse_dataset(const std::string& text, const std::string& name);

/// Vidur's rule for requests longer than a model allows: a request whose prompt + output
/// exceeds max_len loses prompt tokens (at least 1 kept; output cut to max_len - 1 when even
/// that is too long). Returns how many requests were cut.
int64_t clip_to_model_len(std::vector<RequestSpec>& requests, int32_t max_len);

}  // namespace sarathi::workload
