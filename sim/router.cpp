#include "sim/router.h"

#include "core/check.h"

namespace sarathi::sim {

core::Result<RoutePolicy> parse_route_policy(const std::string& name) {
  if (name == "round-robin") return RoutePolicy::kRoundRobin;
  if (name == "least-outstanding") return RoutePolicy::kLeastOutstanding;
  return core::make_error(core::ErrorCode::kInvalidArgument,
                          "unknown router '{}': round-robin or least-outstanding", name);
}

std::string route_policy_name(RoutePolicy p) {
  return p == RoutePolicy::kRoundRobin ? "round-robin" : "least-outstanding";
}

int32_t Router::route(std::span<const int64_t> outstanding) {
  SARATHI_CHECK(static_cast<int32_t>(outstanding.size()) == n_ && n_ > 0,
                "router over {} replicas given {} loads", n_, outstanding.size());
  if (policy_ == RoutePolicy::kRoundRobin) {
    const int32_t r = next_;
    next_ = (next_ + 1) % n_;
    return r;
  }
  int32_t best = 0;
  for (int32_t r = 1; r < n_; ++r)
    if (outstanding[static_cast<size_t>(r)] < outstanding[static_cast<size_t>(best)]) best = r;
  return best;
}

}  // namespace sarathi::sim
