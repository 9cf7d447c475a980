// sim/router.h: the global router of a simulated cluster: which replica a new request goes to.
// round-robin: in turn; least-outstanding: the replica with the fewest tokens still to process
// (prompt tokens not yet prefilled plus output tokens not yet produced, over its unfinished
// requests), ties to the lowest index. Pure arithmetic.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace sarathi::sim {

enum class RoutePolicy { kRoundRobin, kLeastOutstanding };

/// "round-robin" or "least-outstanding"; an error names both.
core::Result<RoutePolicy> parse_route_policy(const std::string& name);
std::string route_policy_name(RoutePolicy p);

class Router {
 public:
  Router(RoutePolicy policy, int32_t num_replicas) : policy_(policy), n_(num_replicas) {}
  /// The replica for the next request, given each replica's outstanding tokens.
  int32_t route(std::span<const int64_t> outstanding_tokens);

 private:
  RoutePolicy policy_;
  int32_t n_;
  int32_t next_ = 0;
};

}  // namespace sarathi::sim
