// Pipeline stages on hand-built timelines: FIFO micro-batches, hand-offs, busy time, and the
// bubble accounting (idle stage time while requests are in).
#include "sim/pipeline.h"

#include <gtest/gtest.h>

namespace sarathi::sim {
namespace {

TEST(Pipeline, OneStageRunsBackToBack) {
  Pipeline p(1);
  EXPECT_DOUBLE_EQ(p.launch(0, 2, 2, 0), 2);
  EXPECT_DOUBLE_EQ(p.launch(1, 3, 3, 0), 5);  // issued while busy: waits for the stage
  EXPECT_DOUBLE_EQ(p.launch(7, 1, 1, 0), 8);  // idle 5..7
  EXPECT_DOUBLE_EQ(p.busy_s(0), 6);
  StageUsage u{.busy_s = {p.busy_s(0)}, .active_s = 8};
  EXPECT_DOUBLE_EQ(u.bubble_s(0), 2);
  EXPECT_DOUBLE_EQ(u.bubble_fraction(), 0.25);
}

TEST(Pipeline, UnevenMicroBatchesLeaveBubbles) {
  // Two stages, no hand-off cost. A long micro-batch (a prefill, 3 per stage) then two short
  // ones (decodes, 1 per stage), all issued at 0:
  //   stage 0: [0,3] [3,4] [4,5]
  //   stage 1:       [3,6] [6,7] [7,8]
  Pipeline p(2);
  EXPECT_DOUBLE_EQ(p.launch(0, 3, 3, 0), 6);
  EXPECT_DOUBLE_EQ(p.launch(0, 1, 1, 0), 7);
  EXPECT_DOUBLE_EQ(p.launch(0, 1, 1, 0), 8);
  StageUsage u{.busy_s = {p.busy_s(0), p.busy_s(1)}, .active_s = 8};
  EXPECT_DOUBLE_EQ(u.bubble_s(0), 3);  // stage 0 idle 5..8
  EXPECT_DOUBLE_EQ(u.bubble_s(1), 3);  // stage 1 idle 0..3 (fill)
  EXPECT_DOUBLE_EQ(u.bubble_fraction(), 6.0 / 16.0);
  // Even micro-batches of the same total work (5 per stage) pipeline with only fill and drain.
  Pipeline q(2);
  for (double d : {5.0 / 3, 5.0 / 3, 5.0 / 3}) q.launch(0, d, d, 0);
  EXPECT_NEAR(q.free_at(1), 5 + 5.0 / 3, 1e-12);
  StageUsage v{.busy_s = {q.busy_s(0), q.busy_s(1)}, .active_s = q.free_at(1)};
  EXPECT_LT(v.bubble_fraction(), u.bubble_fraction());
}

TEST(Pipeline, HandOffDelaysTheNextStageOnly) {
  Pipeline p(3);
  // Stage times 1 (stage 0 also carries 0.5 of CPU overhead), hand-off 0.25:
  // stage 0 [0, 1.5], stage 1 [1.75, 2.75], stage 2 [3, 4].
  EXPECT_DOUBLE_EQ(p.launch(0, 1.5, 1, 0.25), 4);
  EXPECT_DOUBLE_EQ(p.free_at(0), 1.5);
  EXPECT_DOUBLE_EQ(p.free_at(1), 2.75);
  // The next micro-batch enters stage 0 at 1.5 and is held at stage 2 until 4.
  EXPECT_DOUBLE_EQ(p.launch(1.5, 1, 1, 0.25), 5);
  EXPECT_DOUBLE_EQ(p.busy_s(0), 2.5);
  EXPECT_DOUBLE_EQ(p.busy_s(2), 2);
}

TEST(ActiveClock, SumsActivePeriods) {
  ActiveClock c;
  c.begin(1);
  c.end(4);
  c.begin(10);
  c.end(10.5);
  EXPECT_DOUBLE_EQ(c.total_s(), 3.5);
  EXPECT_DOUBLE_EQ(StageUsage{}.bubble_fraction(), 0);
}

}  // namespace
}  // namespace sarathi::sim
