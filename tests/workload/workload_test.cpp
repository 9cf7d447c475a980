#include "workload/workload.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

namespace sarathi::workload {
namespace {

TEST(Workload, FixedLengthsAllAtZero) {
  auto w = make_workload({.num_prompts = 5, .input_len = 100, .output_len = 7});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 5u);
  for (const auto& r : *w) {
    EXPECT_EQ(r.input_len, 100);
    EXPECT_EQ(r.output_len, 7);
    EXPECT_EQ(r.arrival_s, 0.0);
  }
}

TEST(Workload, RangeRatioAndPoissonArrivals) {
  WorkloadOptions o{.num_prompts = 2000, .input_len = 100, .output_len = 50, .range_ratio = 0.5,
                    .request_rate = 10.0, .seed = 3};
  auto w = make_workload(o);
  ASSERT_TRUE(w.ok());
  double prev = 0, sum_in = 0;
  for (const auto& r : *w) {
    EXPECT_GE(r.input_len, 50);
    EXPECT_LE(r.input_len, 150);
    EXPECT_GE(r.arrival_s, prev);
    prev = r.arrival_s;
    sum_in += r.input_len;
  }
  EXPECT_NEAR(sum_in / 2000, 100, 3);
  EXPECT_NEAR(w->back().arrival_s / 2000, 0.1, 0.01);  // mean gap 1/rate
  auto again = make_workload(o);
  EXPECT_EQ(again->back().arrival_s, w->back().arrival_s);  // deterministic
}

TEST(Workload, CsvDataset) {
  auto rows = parse_length_csv("input_len,output_len\n10,2\n\n 30 , 4\r\n", "t.csv");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].input_len, 30);
  EXPECT_EQ((*rows)[1].output_len, 4);
  auto bad = parse_length_csv("10,2\nx,3\n", "t.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("t.csv:2"), std::string::npos);
  EXPECT_FALSE(parse_length_csv("10,0\n", "t.csv").ok());

  const std::string path = ::testing::TempDir() + "lengths.csv";
  std::ofstream(path) << "5,1\n6,2\n";
  auto w = make_workload({.num_prompts = 3, .dataset = path});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)[2].input_len, 5);  // cycled
  EXPECT_FALSE(make_workload({.num_prompts = 3, .dataset = "/nonexistent.csv"}).ok());
}

TEST(Workload, GammaArrivalsHaveTheRateAndTheBurstiness) {
  for (double cv : {0.5, 1.0, 3.0}) {
    WorkloadOptions o{.num_prompts = 20000, .request_rate = 4.0, .seed = 9};
    o.arrival = "gamma";
    o.arrival_cv = cv;
    auto w = make_workload(o);
    ASSERT_TRUE(w.ok()) << w.error().message;
    double sum = 0, sq = 0, prev = 0;
    for (const auto& r : *w) {
      const double gap = r.arrival_s - prev;
      prev = r.arrival_s;
      sum += gap;
      sq += gap * gap;
    }
    const double mean = sum / 20000, sd = std::sqrt(sq / 20000 - mean * mean);
    EXPECT_NEAR(mean, 0.25, 0.25 * 0.06) << "cv " << cv;
    EXPECT_NEAR(sd / mean, cv, cv * 0.08) << "cv " << cv;
  }
}

TEST(Workload, ZipfLengthsFavourTheShortestAndStayInRange) {
  WorkloadOptions o{.num_prompts = 20000, .input_len = 100, .output_len = 20, .range_ratio = 0.5,
                    .seed = 4};
  o.length_dist = "zipf";
  o.zipf_theta = 1.0;
  auto w = make_workload(o);
  ASSERT_TRUE(w.ok());
  std::map<int32_t, int> count;
  for (const auto& r : *w) {
    ASSERT_GE(r.input_len, 50);
    ASSERT_LE(r.input_len, 150);
    ++count[r.input_len];
  }
  // P(50 + k) is proportional to 1 / (k + 1): the shortest twice as frequent as the next.
  const double h = [] {
    double s = 0;
    for (int k = 1; k <= 101; ++k) s += 1.0 / k;
    return s;
  }();
  EXPECT_NEAR(count[50] / 20000.0, 1 / h, 0.02);
  EXPECT_NEAR(double(count[50]) / count[51], 2.0, 0.25);
  EXPECT_GT(count[50], count[100] * 20);
}

TEST(Workload, VidurTracesWithAndWithoutArrivalTimes) {
  auto conv = parse_dataset(
      "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n4.3,396,109\n5.0,0,3\n"
      "6.5,12,7\n",
      "conv.csv");
  ASSERT_TRUE(conv.ok()) << conv.error().message;
  EXPECT_TRUE(conv->has_arrivals);
  ASSERT_EQ(conv->requests.size(), 3u);  // the row without prompt tokens is dropped
  EXPECT_EQ(conv->requests[1].input_len, 396);
  EXPECT_EQ(conv->requests[1].output_len, 109);
  EXPECT_DOUBLE_EQ(conv->requests[2].arrival_s, 6.5);
  auto arxiv = parse_dataset(
      "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n3772,54,3826,69.8\n",
      "arxiv.csv");
  ASSERT_TRUE(arxiv.ok());
  EXPECT_FALSE(arxiv->has_arrivals);
  EXPECT_EQ(arxiv->requests[0].input_len, 3772);
  EXPECT_FALSE(parse_dataset("arrived_at,num_prefill_tokens,num_decode_tokens\n2,5,5\n1,5,5\n",
                             "unordered.csv")
                   .ok());
  EXPECT_FALSE(parse_dataset("num_prefill_tokens,num_decode_tokens\nx,5\n", "bad.csv").ok());

  // The trace's own arrival times, scaled, and repeated one mean gap after its end.
  const std::string path = ::testing::TempDir() + "trace.csv";
  std::ofstream(path) << "arrived_at,num_prefill_tokens,num_decode_tokens\n10,5,1\n12,6,2\n14,7,3\n";
  WorkloadOptions o{.num_prompts = 5, .dataset = path};
  o.arrival = "trace";
  o.trace_time_scale = 2.0;
  auto w = make_workload(o);
  ASSERT_TRUE(w.ok()) << w.error().message;
  const double want[] = {0, 1, 2, 3, 4};  // (0, 2, 4, then 6 + 0, 6 + 2) / 2
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ((*w)[static_cast<size_t>(i)].arrival_s, want[i]);
  EXPECT_EQ((*w)[3].input_len, 5);
  o.dataset.clear();
  EXPECT_FALSE(make_workload(o).ok());  // trace arrivals need a dataset
}

TEST(Workload, ClipsLikeVidur) {
  std::vector<RequestSpec> r = {{.input_len = 100, .output_len = 20},
                                {.input_len = 5000, .output_len = 200},
                                {.input_len = 10, .output_len = 5000}};
  EXPECT_EQ(clip_to_model_len(r, 4096), 2);
  EXPECT_EQ(r[0].input_len, 100);
  EXPECT_EQ(r[1].input_len, 3896);  // the prompt loses what does not fit
  EXPECT_EQ(r[1].output_len, 200);
  EXPECT_EQ(r[2].input_len, 1);     // even the output alone is too long
  EXPECT_EQ(r[2].output_len, 4095);
}

TEST(Workload, RejectsBadOptions) {
  EXPECT_FALSE(make_workload({.num_prompts = 0}).ok());
  EXPECT_FALSE(make_workload({.range_ratio = 1.5}).ok());
  EXPECT_FALSE(make_workload({.request_rate = -1}).ok());
  WorkloadOptions o;
  o.arrival = "uniform";
  EXPECT_FALSE(make_workload(o).ok());
  o = {};
  o.length_dist = "normal";
  EXPECT_FALSE(make_workload(o).ok());
  o = {};
  o.arrival_cv = 0;
  EXPECT_FALSE(make_workload(o).ok());
}

}  // namespace
}  // namespace sarathi::workload
