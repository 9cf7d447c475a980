// The global router: round-robin cycles through the replicas; least-outstanding picks the
// replica with the fewest tokens left, ties to the lowest index.
#include "sim/router.h"

#include <gtest/gtest.h>

#include <vector>

namespace sarathi::sim {
namespace {

TEST(Router, RoundRobinCyclesWhateverTheLoad) {
  Router r(RoutePolicy::kRoundRobin, 3);
  const std::vector<int64_t> load{100, 0, 50};
  std::vector<int32_t> got;
  for (int i = 0; i < 7; ++i) got.push_back(r.route(load));
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(Router, LeastOutstandingPicksTheLightestReplica) {
  Router r(RoutePolicy::kLeastOutstanding, 4);
  EXPECT_EQ(r.route(std::vector<int64_t>{30, 10, 20, 10}), 1);  // tie: lowest index
  EXPECT_EQ(r.route(std::vector<int64_t>{30, 11, 20, 10}), 3);
  EXPECT_EQ(r.route(std::vector<int64_t>{0, 0, 0, 0}), 0);
  // Fed back: each request adds its tokens to the chosen replica; loads stay balanced.
  std::vector<int64_t> load(4, 0);
  for (int i = 0; i < 40; ++i) load[static_cast<size_t>(r.route(load))] += 100 + (i % 3);
  const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
  EXPECT_LE(*hi - *lo, 102);
}

TEST(Router, ParsesItsNames) {
  EXPECT_EQ(*parse_route_policy("round-robin"), RoutePolicy::kRoundRobin);
  EXPECT_EQ(*parse_route_policy("least-outstanding"), RoutePolicy::kLeastOutstanding);
  EXPECT_FALSE(parse_route_policy("random").ok());
  EXPECT_EQ(route_policy_name(RoutePolicy::kLeastOutstanding), "least-outstanding");
}

}  // namespace
}  // namespace sarathi::sim
