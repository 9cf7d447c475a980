#include "workload/capacity_search.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace sarathi::workload {

using core::ErrorCode;
using core::make_error;

bool meets_criteria(const ServingMetrics& m, const CapacityCriteria& c, std::string* why) {
  std::string w;
  if (m.num_requests == 0) {
    w = "no request completed";
  } else if (m.num_failed > 0) {
    w = fmt::format("{} request(s) failed", m.num_failed);
  } else if (!(m.p99_tbt_s <= c.tbt_slo_s)) {
    w = fmt::format("P99 TBT {:.3g} ms > SLO {:.3g} ms", m.p99_tbt_s * 1e3, c.tbt_slo_s * 1e3);
  } else if (!(m.median_delay_s <= c.max_delay_s)) {
    w = fmt::format("median {} {:.2f} s > {:.2f} s", m.delay_is_ttft ? "TTFT" : "delay",
                    m.median_delay_s, c.max_delay_s);
  }
  if (why) *why = w;
  return w.empty();
}

double capacity_of(const std::vector<ProbeOutcome>& probes) {
  double lowest_fail = std::numeric_limits<double>::infinity();
  for (const ProbeOutcome& p : probes)
    if (!p.pass) lowest_fail = std::min(lowest_fail, p.rate);
  double best = 0;
  for (const ProbeOutcome& p : probes)
    if (p.pass && p.rate < lowest_fail) best = std::max(best, p.rate);
  return best;
}

namespace {

class Search {
 public:
  Search(const ProbeFn& probe, const CapacityCriteria& c, const CapacitySearchOptions& o)
      : probe_(probe), criteria_(c), options_(o) {}

  // Probes `rate`; false when the probe could not run or the budget is spent (then stop).
  bool run(double rate, bool& pass) {
    if (static_cast<int32_t>(r_.probes.size()) >= options_.max_probes) {
      r_.stop_reason = fmt::format("max probes ({}) reached", options_.max_probes);
      return false;
    }
    auto m = probe_(rate);
    if (!m.ok()) {
      r_.error = fmt::format("probe at {:.3g} req/s: {}", rate, m.error().message);
      r_.stop_reason = "a probe failed to run";
      return false;
    }
    ProbeOutcome o{.rate = rate, .metrics = *m};
    o.pass = meets_criteria(o.metrics, criteria_, &o.why);
    pass = o.pass;
    r_.probes.push_back(std::move(o));
    return true;
  }

  CapacityResult search() {
    bool pass = false;
    if (!run(options_.start_rate, pass)) return finish();
    double lo = 0, hi = 0;  // highest pass, lowest failure
    if (pass) {
      lo = options_.start_rate;
      for (;;) {  // double until a failure
        if (!run(lo * 2, pass)) return finish();
        if (!pass) break;
        lo *= 2;
      }
      hi = lo * 2;
    } else {
      hi = options_.start_rate;
      const double min_rate = options_.min_rate > 0 ? options_.min_rate : options_.start_rate / 16;
      for (;;) {  // halve until a pass
        if (hi / 2 < min_rate * (1 - 1e-9)) {
          r_.stop_reason = fmt::format("every rate down to {:.3g} req/s failed", hi);
          return finish();
        }
        if (!run(hi / 2, pass)) return finish();
        if (pass) break;
        hi /= 2;
      }
      lo = hi / 2;
    }
    while (hi - lo > options_.rel_tolerance * lo) {
      const double mid = 0.5 * (lo + hi);
      if (!run(mid, pass)) return finish();
      (pass ? lo : hi) = mid;
    }
    r_.stop_reason = fmt::format("within {:.3g}% ({:.3g} passes, {:.3g} fails)",
                                 options_.rel_tolerance * 100, lo, hi);
    return finish();
  }

 private:
  CapacityResult finish() {
    r_.capacity = capacity_of(r_.probes);
    double lowest_fail = 0;
    for (const ProbeOutcome& p : r_.probes)
      if (!p.pass && (lowest_fail == 0 || p.rate < lowest_fail)) lowest_fail = p.rate;
    r_.lowest_failing_rate = lowest_fail;
    return std::move(r_);
  }

  const ProbeFn& probe_;
  CapacityCriteria criteria_;
  CapacitySearchOptions options_;
  CapacityResult r_;
};

}  // namespace

core::Result<CapacityResult> search_capacity(const ProbeFn& probe, const CapacityCriteria& c,
                                             const CapacitySearchOptions& o) {
  if (!probe) return make_error(ErrorCode::kInvalidArgument, "capacity search needs a probe");
  if (!(c.tbt_slo_s > 0) || !std::isfinite(c.tbt_slo_s) || !(c.max_delay_s > 0))
    return make_error(ErrorCode::kInvalidArgument,
                      "need a TBT SLO > 0 and a delay bound > 0, got {} s and {} s", c.tbt_slo_s,
                      c.max_delay_s);
  if (!(o.start_rate > 0) || !std::isfinite(o.start_rate))
    return make_error(ErrorCode::kInvalidArgument, "the start rate must be > 0, got {}",
                      o.start_rate);
  if (!(o.rel_tolerance > 0) || !(o.rel_tolerance < 1))
    return make_error(ErrorCode::kInvalidArgument, "the tolerance must be in (0, 1), got {}",
                      o.rel_tolerance);
  if (o.max_probes < 1)
    return make_error(ErrorCode::kInvalidArgument, "need at least one probe, got {}", o.max_probes);
  if (!(o.min_rate >= 0) || o.min_rate > o.start_rate)
    return make_error(ErrorCode::kInvalidArgument,
                      "the minimum rate must be in [0, start rate {}], got {}", o.start_rate,
                      o.min_rate);
  return Search(probe, c, o).search();
}

}  // namespace sarathi::workload
