// workload/serving_metrics.h: what a serving benchmark measures from its requests' token time
// lines: TBT percentiles, scheduling delay, TTFT, token throughput, and Etalon's fluidity-index
// (token deadlines with slack carried forward). Pure functions over recorded times, no clocks.
// Depends on core/ only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace sarathi::workload {

/// Etalon's deadline accounting for one request's decode tokens (or a run's, summed).
struct DeadlineCount {
  int64_t num_deadlines = 0;  // deadlines counted: one per on-time token, every missed one
  int64_t num_missed = 0;

  DeadlineCount& operator+=(const DeadlineCount& o) {
    num_deadlines += o.num_deadlines;
    num_missed += o.num_missed;
    return *this;
  }
  /// 1 - missed / deadlines; 1 when nothing was counted (no token after the first).
  double fluidity_index() const;
};

/// Etalon's fluidity-index deadlines (Agrawal et al., arXiv 2407.07000; etalon's
/// get_request_level_deadline_miss_rate with the first token ignored), over the gaps between
/// consecutive tokens of one request and a TBT deadline D > 0 (seconds):
///   - a token whose gap g <= D + slack is on time: one deadline met, slack += D - g (so with
///     no miss, token i's deadline is t_first + i*D: early tokens bank time for later ones);
///   - a late token (g > D + slack) misses floor((g - slack) / D) >= 1 deadlines (every
///     deadline that passed during the stall), each also counted as a deadline, and slack
///     resets to 0: the next token's deadline is the late token's arrival + D. One stall is
///     counted once, however many tokens follow it.
/// The first token (TTFT) is not judged.
DeadlineCount count_deadlines_from_gaps(std::span<const double> gaps, double deadline_s);

/// The same over token times t_0..t_{n-1} (any origin): the gaps t_i - t_{i-1}.
DeadlineCount count_deadlines(std::span<const double> token_times, double deadline_s);

/// Nearest-rank percentile (p in 0..100) of a sample, the median averaging the middle pair
/// (cli/common.h's percentile and median call this); 0 for an empty sample.
double percentile(std::vector<double> v, double p);

/// One request as a serving benchmark saw it, times in seconds on one clock.
struct RequestTimeline {
  double arrival_s = 0;
  double first_scheduled_s = -1;    // < 0: unknown (over HTTP); TTFT then stands in
  std::vector<double> token_times;  // each output token (or streamed chunk) as received
  int64_t num_prompt_tokens = 0;
  int64_t num_output_tokens = 0;  // 0: token_times.size()
  bool ok = true;                 // a failed request only counts in num_failed
};

/// A run's figures (seconds unless named otherwise).
struct ServingMetrics {
  int64_t num_requests = 0;  // completed
  int64_t num_failed = 0;
  double duration_s = 0;
  double p50_tbt_s = 0, p99_tbt_s = 0, max_tbt_s = 0;  // over all gaps of all requests
  // Median arrival-to-first-scheduled; TTFT where a request's first_scheduled_s is unknown
  // (delay_is_ttft then says so).
  double median_delay_s = 0;
  bool delay_is_ttft = false;
  double p50_ttft_s = 0, p99_ttft_s = 0;
  double output_tokens_per_s = 0, total_tokens_per_s = 0;  // over duration_s
  double tbt_deadline_s = 0;  // the fluidity-index deadline (0: none given, index 1)
  DeadlineCount deadlines;    // summed over requests
  double fluidity_index = 1;  // deadlines.fluidity_index()
};

/// Summarizes the requests of one run that lasted duration_s; fluidity-index against
/// tbt_deadline_s when > 0.
ServingMetrics summarize_serving(std::span<const RequestTimeline> requests, double duration_s,
                                 double tbt_deadline_s);

}  // namespace sarathi::workload
