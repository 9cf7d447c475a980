#include "workload/capacity_search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace sarathi::workload {
namespace {

constexpr CapacityCriteria kCriteria{.tbt_slo_s = 0.1, .max_delay_s = 2.0};

// A probe whose P99 TBT grows with the rate and crosses the 100 ms SLO at `breaking` req/s.
ServingMetrics monotone(double rate, double breaking) {
  ServingMetrics m;
  m.num_requests = 24;
  m.p99_tbt_s = 0.1 * rate / breaking;  // <= 0.1 exactly when rate <= breaking
  m.median_delay_s = 0.1;
  return m;
}

void expect_consistent(const CapacityResult& r) {
  // The capacity is a rate that was probed and passed, below every failing rate.
  if (r.capacity > 0) {
    bool found = false;
    for (const ProbeOutcome& p : r.probes) {
      if (p.rate == r.capacity) {
        EXPECT_TRUE(p.pass) << "capacity " << r.capacity << " failed when probed";
        found = true;
      }
    }
    EXPECT_TRUE(found);
  }
  for (const ProbeOutcome& p : r.probes) {
    if (!p.pass) {
      EXPECT_LT(r.capacity, p.rate);
      EXPECT_FALSE(p.why.empty());
    }
  }
  EXPECT_EQ(r.capacity, capacity_of(r.probes));
}

TEST(CapacitySearch, FindsTheBreakingRateWithinTolerance) {
  int calls = 0;
  auto r = search_capacity(
      [&](double rate) -> core::Result<ServingMetrics> {
        ++calls;
        return monotone(rate, 3.7);
      },
      kCriteria, {.start_rate = 1.0, .rel_tolerance = 0.05, .max_probes = 20});
  ASSERT_TRUE(r.ok()) << r.error().message;
  // By hand: 1, 2 pass; 4 fails; bisection 3 P, 3.5 P, 3.75 F, 3.625 P; then
  // (3.75 - 3.625) / 3.625 = 3.4% <= 5%: stop at 3.625.
  EXPECT_DOUBLE_EQ(r->capacity, 3.625);
  EXPECT_DOUBLE_EQ(r->lowest_failing_rate, 3.75);
  EXPECT_EQ(calls, 7);
  ASSERT_EQ(r->probes.size(), 7u);
  const double expected_rates[] = {1, 2, 4, 3, 3.5, 3.75, 3.625};
  for (size_t i = 0; i < 7; ++i) EXPECT_DOUBLE_EQ(r->probes[i].rate, expected_rates[i]);
  EXPECT_LE(r->capacity, 3.7);
  EXPECT_GE(r->capacity, 3.7 * (1 - 0.05));
  EXPECT_TRUE(r->error.empty());
  expect_consistent(*r);
}

TEST(CapacitySearch, ManyBreakingRates) {
  for (double breaking : {0.3, 0.77, 1.0, 1.01, 2.5, 9.9, 40.0}) {
    for (double tol : {0.02, 0.1}) {
      auto r = search_capacity(
          [&](double rate) -> core::Result<ServingMetrics> { return monotone(rate, breaking); },
          kCriteria, {.start_rate = 1.0, .rel_tolerance = tol, .max_probes = 40});
      ASSERT_TRUE(r.ok());
      SCOPED_TRACE(testing::Message() << "breaking " << breaking << " tol " << tol);
      EXPECT_LE(r->capacity, breaking);
      EXPECT_GT(r->lowest_failing_rate, breaking);
      EXPECT_LE(r->lowest_failing_rate - r->capacity, tol * r->capacity * (1 + 1e-12));
      EXPECT_GE(r->capacity, breaking * (1 - tol));
      expect_consistent(*r);
    }
  }
}

TEST(CapacitySearch, HalvesWhenTheStartFails) {
  auto r = search_capacity(
      [](double rate) -> core::Result<ServingMetrics> { return monotone(rate, 0.3); }, kCriteria,
      {.start_rate = 1.0, .rel_tolerance = 0.1, .max_probes = 20});
  ASSERT_TRUE(r.ok());
  // 1 F, 0.5 F, 0.25 P; bisection 0.375 F, 0.3125 F, 0.28125 P: (0.3125 - 0.28125) / 0.28125
  // = 11% > 10%; 0.296875 P: 5.3%, stop.
  EXPECT_DOUBLE_EQ(r->capacity, 0.296875);
  EXPECT_DOUBLE_EQ(r->lowest_failing_rate, 0.3125);
  expect_consistent(*r);
}

TEST(CapacitySearch, EvenTheLowestRateFails) {
  std::vector<double> probed;
  auto r = search_capacity(
      [&](double rate) -> core::Result<ServingMetrics> {
        probed.push_back(rate);
        return monotone(rate, 0.01);
      },
      kCriteria, {.start_rate = 1.0, .rel_tolerance = 0.05, .max_probes = 20, .min_rate = 0.2});
  ASSERT_TRUE(r.ok());
  // 1, 0.5, 0.25 fail; 0.125 is below the minimum rate: capacity 0.
  EXPECT_EQ(probed, (std::vector<double>{1, 0.5, 0.25}));
  EXPECT_EQ(r->capacity, 0.0);
  EXPECT_DOUBLE_EQ(r->lowest_failing_rate, 0.25);
  EXPECT_NE(r->stop_reason.find("every rate down to 0.25"), std::string::npos) << r->stop_reason;
  expect_consistent(*r);
  // The default minimum is start / 16: 1, 1/2, 1/4, 1/8, 1/16 are probed.
  probed.clear();
  r = search_capacity(
      [&](double rate) -> core::Result<ServingMetrics> {
        probed.push_back(rate);
        return monotone(rate, 0.01);
      },
      kCriteria, {.start_rate = 1.0});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(probed, (std::vector<double>{1, 0.5, 0.25, 0.125, 0.0625}));
  EXPECT_EQ(r->capacity, 0.0);
}

TEST(CapacitySearch, NoisyNonMonotoneReportsThePassBelowTheFirstFailure) {
  // Passes below 3.7 except a noisy failure around 2: the search never trusts the passes it
  // would find above that failure.
  auto r = search_capacity(
      [](double rate) -> core::Result<ServingMetrics> {
        ServingMetrics m = monotone(rate, 3.7);
        if (rate >= 1.9 && rate <= 2.1) m.p99_tbt_s = 0.5;
        return m;
      },
      kCriteria, {.start_rate = 1.0, .rel_tolerance = 0.05, .max_probes = 20});
  ASSERT_TRUE(r.ok());
  // 1 P, 2 F; 1.5 P, 1.75 P, 1.875 P (6.7% > 5%), 1.9375 F (3.3%): 1.875.
  EXPECT_DOUBLE_EQ(r->capacity, 1.875);
  EXPECT_DOUBLE_EQ(r->lowest_failing_rate, 1.9375);
  expect_consistent(*r);
}

TEST(CapacitySearch, ScriptedNoiseInTheBisection) {
  // By rate: 1 P, 2 P, 4 F, 3 P, 3.5 F, 3.25 F (noise), 3.125 P.
  const std::map<double, bool> script = {{1, true},    {2, true},     {4, false},   {3, true},
                                         {3.5, false}, {3.25, false}, {3.125, true}};
  auto r = search_capacity(
      [&](double rate) -> core::Result<ServingMetrics> {
        ServingMetrics m = monotone(rate, 100);
        const auto it = script.find(rate);
        if (it == script.end()) return core::make_error(core::ErrorCode::kInternal, "unscripted");
        if (!it->second) m.median_delay_s = 3.0;  // fails on the delay bound this time
        return m;
      },
      kCriteria, {.start_rate = 1.0, .rel_tolerance = 0.05, .max_probes = 20});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->error.empty()) << r->error;
  // After 3.125 P: (3.25 - 3.125) / 3.125 = 4% <= 5%: stop.
  EXPECT_DOUBLE_EQ(r->capacity, 3.125);
  EXPECT_EQ(r->probes.size(), 7u);
  EXPECT_NE(r->probes[2].why.find("median delay"), std::string::npos) << r->probes[2].why;
  expect_consistent(*r);
  // capacity_of on its own: a pass above the lowest failure does not count.
  std::vector<ProbeOutcome> probes = {
      {.rate = 1, .pass = true}, {.rate = 2, .pass = false}, {.rate = 3, .pass = true}};
  EXPECT_EQ(capacity_of(probes), 1.0);
  probes[0].pass = false;
  EXPECT_EQ(capacity_of(probes), 0.0);
}

TEST(CapacitySearch, MaxProbesBoundsTheSearch) {
  auto r = search_capacity(
      [](double rate) -> core::Result<ServingMetrics> { return monotone(rate, 1000); }, kCriteria,
      {.start_rate = 1.0, .max_probes = 4});
  ASSERT_TRUE(r.ok());
  // 1, 2, 4, 8 all pass; no failure seen: the capacity is only a lower bound.
  EXPECT_EQ(r->probes.size(), 4u);
  EXPECT_DOUBLE_EQ(r->capacity, 8.0);
  EXPECT_EQ(r->lowest_failing_rate, 0.0);
  EXPECT_NE(r->stop_reason.find("max probes"), std::string::npos);
}

TEST(CapacitySearch, FailedRequestsAndProbeErrors) {
  int calls = 0;
  auto r = search_capacity(
      [&](double rate) -> core::Result<ServingMetrics> {
        if (++calls == 3) return core::make_error(core::ErrorCode::kIo, "connection refused");
        ServingMetrics m = monotone(rate, 10);
        if (rate > 1.5) m.num_failed = 1;  // requests that fail make the probe fail
        return m;
      },
      kCriteria, {.start_rate = 1.0});
  ASSERT_TRUE(r.ok());
  // 1 P, 2 F (a failed request), then the third probe cannot run: stop with what we have.
  EXPECT_EQ(r->probes.size(), 2u);
  EXPECT_FALSE(r->probes[1].pass);
  EXPECT_NE(r->probes[1].why.find("failed"), std::string::npos);
  EXPECT_NE(r->error.find("connection refused"), std::string::npos);
  EXPECT_DOUBLE_EQ(r->capacity, 1.0);
}

TEST(CapacitySearch, RejectsBadOptions) {
  const ProbeFn p = [](double rate) -> core::Result<ServingMetrics> { return monotone(rate, 1); };
  EXPECT_FALSE(search_capacity(p, {.tbt_slo_s = 0}, {}).ok());
  EXPECT_FALSE(search_capacity(p, {.tbt_slo_s = 0.1, .max_delay_s = 0}, {}).ok());
  EXPECT_FALSE(search_capacity(p, kCriteria, {.start_rate = 0}).ok());
  EXPECT_FALSE(search_capacity(p, kCriteria, {.start_rate = INFINITY}).ok());
  EXPECT_FALSE(search_capacity(p, kCriteria, {.rel_tolerance = 0}).ok());
  EXPECT_FALSE(search_capacity(p, kCriteria, {.max_probes = 0}).ok());
  EXPECT_FALSE(search_capacity(p, kCriteria, {.start_rate = 1, .min_rate = 2}).ok());
  EXPECT_FALSE(search_capacity(nullptr, kCriteria, {}).ok());
}

TEST(CapacitySearch, MeetsCriteria) {
  ServingMetrics m = monotone(1, 2);
  std::string why;
  EXPECT_TRUE(meets_criteria(m, kCriteria, &why));
  EXPECT_TRUE(why.empty());
  m.p99_tbt_s = 0.1000001;
  EXPECT_FALSE(meets_criteria(m, kCriteria, &why));
  EXPECT_NE(why.find("P99 TBT"), std::string::npos);
  m = monotone(1, 2);
  m.median_delay_s = 2.5;
  m.delay_is_ttft = true;
  EXPECT_FALSE(meets_criteria(m, kCriteria, &why));
  EXPECT_NE(why.find("median TTFT"), std::string::npos);
  EXPECT_FALSE(meets_criteria(ServingMetrics{}, kCriteria, nullptr));  // nothing completed
}

}  // namespace
}  // namespace sarathi::workload
