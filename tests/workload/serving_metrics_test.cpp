#include "workload/serving_metrics.h"

#include <gtest/gtest.h>

#include <vector>

namespace sarathi::workload {
namespace {

// Times in units of D = 1 s (binary fractions, so every comparison is exact).

TEST(Fluidity, OnTime) {
  // Gaps 1, 1, 1, 1: each equals D + slack (slack 0), so on time; 4 deadlines, none missed.
  const std::vector<double> t = {0, 1, 2, 3, 4};
  const DeadlineCount c = count_deadlines(t, 1.0);
  EXPECT_EQ(c.num_deadlines, 4);
  EXPECT_EQ(c.num_missed, 0);
  EXPECT_DOUBLE_EQ(c.fluidity_index(), 1.0);
}

TEST(Fluidity, SlackCarriedForward) {
  // Gaps 0.5, 0.5 bank slack 0.5 + 0.5 = 1; the gap of 2 then meets D + slack = 2 (token 3's
  // deadline t_first + 3D = 3 with the token at 3): 3 deadlines, none missed.
  const std::vector<double> t = {0, 0.5, 1.0, 3.0};
  DeadlineCount c = count_deadlines(t, 1.0);
  EXPECT_EQ(c.num_deadlines, 3);
  EXPECT_EQ(c.num_missed, 0);
  // A quarter later (3.25 > 3): late; floor((2.25 - 1) / 1) = 1 miss: 2 met + 1 missed.
  const std::vector<double> late = {0, 0.5, 1.0, 3.25};
  c = count_deadlines(late, 1.0);
  EXPECT_EQ(c.num_deadlines, 3);
  EXPECT_EQ(c.num_missed, 1);
  EXPECT_DOUBLE_EQ(c.fluidity_index(), 2.0 / 3.0);
}

TEST(Fluidity, OneStallCountsOnce) {
  // Gaps 1, 1.5, 1: the stall of 1.5 misses floor(1.5 / 1) = 1 deadline, and the next
  // deadline is reset to 2.5 + 1 = 3.5, which the token at 3.5 meets (without the reset its
  // deadline would be t_first + 3D = 3 and it would count as a second miss).
  // 3 deadlines, 1 missed: 2/3.
  const std::vector<double> t = {0, 1, 2.5, 3.5};
  const DeadlineCount c = count_deadlines(t, 1.0);
  EXPECT_EQ(c.num_deadlines, 3);
  EXPECT_EQ(c.num_missed, 1);
  EXPECT_DOUBLE_EQ(c.fluidity_index(), 2.0 / 3.0);
}

TEST(Fluidity, LongStallMissesEveryDeadlineItSpans) {
  // Gaps 1, 1, 2.5, 1, 1: the stall of 2.5 spans the deadlines at 3 and 4 (floor(2.5) = 2
  // misses, both counted as deadlines); the two tokens after it are on time from 4.5.
  // Deadlines 2 + 2 + 2 = 6, missed 2: 4/6.
  const std::vector<double> t = {0, 1, 2, 4.5, 5.5, 6.5};
  const DeadlineCount c = count_deadlines(t, 1.0);
  EXPECT_EQ(c.num_deadlines, 6);
  EXPECT_EQ(c.num_missed, 2);
  EXPECT_DOUBLE_EQ(c.fluidity_index(), 4.0 / 6.0);
}

TEST(Fluidity, AllLate) {
  // Gaps 1.5, 1.5, 1.5: each late (slack reset to 0 each time), 1 miss each: index 0.
  const std::vector<double> t = {0, 1.5, 3.0, 4.5};
  const DeadlineCount c = count_deadlines(t, 1.0);
  EXPECT_EQ(c.num_deadlines, 3);
  EXPECT_EQ(c.num_missed, 3);
  EXPECT_DOUBLE_EQ(c.fluidity_index(), 0.0);
}

TEST(Fluidity, SlackIsLostAtAMiss) {
  // Gaps 0.25 (slack 0.75), 2 (> 1.75: late, floor((2 - 0.75) / 1) = 1 miss, slack 0), 1.5
  // (> 1: late again, 1 miss; the banked 0.75 did not survive the first miss).
  // Deadlines 1 + 1 + 1 = 3, missed 2.
  const std::vector<double> t = {0, 0.25, 2.25, 3.75};
  const DeadlineCount c = count_deadlines(t, 1.0);
  EXPECT_EQ(c.num_deadlines, 3);
  EXPECT_EQ(c.num_missed, 2);
}

TEST(Fluidity, GapsEqualTimes) {
  const std::vector<double> t = {10, 10.5, 12.0, 12.25, 15.0};
  const std::vector<double> gaps = {0.5, 1.5, 0.25, 2.75};
  const DeadlineCount a = count_deadlines(t, 0.5);
  const DeadlineCount b = count_deadlines_from_gaps(gaps, 0.5);
  EXPECT_EQ(a.num_deadlines, b.num_deadlines);
  EXPECT_EQ(a.num_missed, b.num_missed);
  // D = 0.5: 0.5 on time; 1.5 late, floor(1.5 / 0.5) = 3 misses; 0.25 on time (slack 0.25);
  // 2.75 late, floor((2.75 - 0.25) / 0.5) = 5 misses. Deadlines 1 + 3 + 1 + 5 = 10, missed 8.
  EXPECT_EQ(a.num_deadlines, 10);
  EXPECT_EQ(a.num_missed, 8);
}

TEST(Fluidity, NothingToJudge) {
  EXPECT_EQ(count_deadlines(std::vector<double>{}, 1.0).num_deadlines, 0);
  EXPECT_EQ(count_deadlines(std::vector<double>{3.0}, 1.0).num_deadlines, 0);
  EXPECT_DOUBLE_EQ(DeadlineCount{}.fluidity_index(), 1.0);
  // No deadline: nothing counted.
  EXPECT_EQ(count_deadlines(std::vector<double>{0, 5}, 0.0).num_deadlines, 0);
}

TEST(Percentile, NearestRank) {
  EXPECT_DOUBLE_EQ(percentile({}, 99), 0.0);
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2}, 50), 2.0);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);
  std::vector<double> v;
  for (int i = 1; i <= 200; ++i) v.push_back(i);
  EXPECT_DOUBLE_EQ(percentile(v, 99), 198.0);  // rank ceil(0.99 * 200) = 198
  EXPECT_DOUBLE_EQ(percentile(v, 100), 200.0);
}

TEST(Summarize, PoolsRequests) {
  std::vector<RequestTimeline> reqs(3);
  // Request 0: arrives at 0, scheduled at 0.5, tokens at 1, 2, 2.5 (gaps 1, 0.5).
  reqs[0] = {.arrival_s = 0,
             .first_scheduled_s = 0.5,
             .token_times = {1, 2, 2.5},
             .num_prompt_tokens = 10};
  // Request 1: arrives at 1, scheduled at 1.25, tokens at 2, 4 (gap 2: late by D = 1,
  // floor(2 / 1) = 2 misses).
  reqs[1] = {
      .arrival_s = 1, .first_scheduled_s = 1.25, .token_times = {2, 4}, .num_prompt_tokens = 20};
  reqs[2] = {.ok = false};
  const ServingMetrics m = summarize_serving(reqs, 5.0, 1.0);
  EXPECT_EQ(m.num_requests, 2);
  EXPECT_EQ(m.num_failed, 1);
  // Gaps {1, 0.5, 2}: median 1, P99 = max = 2.
  EXPECT_DOUBLE_EQ(m.p50_tbt_s, 1.0);
  EXPECT_DOUBLE_EQ(m.p99_tbt_s, 2.0);
  EXPECT_DOUBLE_EQ(m.max_tbt_s, 2.0);
  // Delays {0.5, 0.25}: median 0.375. TTFTs {1, 1}.
  EXPECT_DOUBLE_EQ(m.median_delay_s, 0.375);
  EXPECT_FALSE(m.delay_is_ttft);
  EXPECT_DOUBLE_EQ(m.p50_ttft_s, 1.0);
  // 5 output tokens, 35 in all, over 5 s.
  EXPECT_DOUBLE_EQ(m.output_tokens_per_s, 1.0);
  EXPECT_DOUBLE_EQ(m.total_tokens_per_s, 7.0);
  // Deadlines: request 0 has 2 on time; request 1 has 2 missed: 4 deadlines, 2 missed.
  EXPECT_EQ(m.deadlines.num_deadlines, 4);
  EXPECT_EQ(m.deadlines.num_missed, 2);
  EXPECT_DOUBLE_EQ(m.fluidity_index, 0.5);
}

TEST(Summarize, TtftStandsInForUnknownDelay) {
  std::vector<RequestTimeline> reqs = {{.arrival_s = 0, .token_times = {0.75, 1}},
                                       {.arrival_s = 0, .token_times = {0.25, 1}},
                                       {.arrival_s = 0, .token_times = {1.25, 2}}};
  const ServingMetrics m = summarize_serving(reqs, 2.0, 0);
  EXPECT_TRUE(m.delay_is_ttft);
  EXPECT_DOUBLE_EQ(m.median_delay_s, 0.75);
  EXPECT_EQ(m.deadlines.num_deadlines, 0);  // no deadline given
  EXPECT_DOUBLE_EQ(m.fluidity_index, 1.0);
}

}  // namespace
}  // namespace sarathi::workload
