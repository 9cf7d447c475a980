#include "workload/workload.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

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

TEST(Workload, RejectsBadOptions) {
  EXPECT_FALSE(make_workload({.num_prompts = 0}).ok());
  EXPECT_FALSE(make_workload({.range_ratio = 1.5}).ok());
  EXPECT_FALSE(make_workload({.request_rate = -1}).ok());
}

}  // namespace
}  // namespace sarathi::workload
