// The step-time models' tables: exact at their samples, linear between them, linear beyond the
// ends, never negative; bilinear over a grid.
#include "sim/interp.h"

#include <gtest/gtest.h>

namespace sarathi::sim {
namespace {

TEST(Table1D, ExactAtSamplesLinearBetweenAndBeyond) {
  auto t = Table1D::make({4, 1, 2}, {40, 10, 30});  // any order
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_DOUBLE_EQ((*t)(1), 10);
  EXPECT_DOUBLE_EQ((*t)(2), 30);
  EXPECT_DOUBLE_EQ((*t)(4), 40);
  EXPECT_DOUBLE_EQ((*t)(1.5), 20);
  EXPECT_DOUBLE_EQ((*t)(3), 35);
  EXPECT_DOUBLE_EQ((*t)(6), 50);   // beyond: the last segment's slope (5 per unit)
  EXPECT_DOUBLE_EQ((*t)(0.5), 0);  // before: 10 - 20 * 0.5 = 0
  EXPECT_DOUBLE_EQ((*t)(0), 0);    // clamped, never negative
}

TEST(Table1D, RepeatedSamplesAveragedAndOneSampleConstant) {
  auto t = Table1D::make({2, 2, 3}, {1, 3, 5});
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ((*t)(2), 2);
  EXPECT_DOUBLE_EQ((*t)(2.5), 3.5);
  auto one = Table1D::make({7}, {0.25});
  ASSERT_TRUE(one.ok());
  EXPECT_DOUBLE_EQ((*one)(1), 0.25);
  EXPECT_DOUBLE_EQ((*one)(100), 0.25);
}

TEST(Table1D, RejectsEmptyMismatchedOrNonFinite) {
  EXPECT_FALSE(Table1D::make({}, {}).ok());
  EXPECT_FALSE(Table1D::make({1, 2}, {1}).ok());
  EXPECT_FALSE(Table1D::make({1, 2}, {1, std::nan("")}).ok());
}

TEST(Grid2D, BilinearAtAndBetweenPoints) {
  // z = 1 + 2x + 3y + xy: bilinear, so interpolation is exact everywhere inside.
  const std::vector<double> xs{0, 1, 4}, ys{0, 2, 3};
  std::vector<double> z;
  auto f = [](double x, double y) { return 1 + 2 * x + 3 * y + x * y; };
  for (double x : xs)
    for (double y : ys) z.push_back(f(x, y));
  auto g = Grid2D::make(xs, ys, z);
  ASSERT_TRUE(g.ok()) << g.error().message;
  for (double x : xs)
    for (double y : ys) EXPECT_DOUBLE_EQ((*g)(x, y), f(x, y));
  EXPECT_NEAR((*g)(0.5, 1.0), f(0.5, 1.0), 1e-12);
  EXPECT_NEAR((*g)(2.5, 2.5), f(2.5, 2.5), 1e-12);
  EXPECT_NEAR((*g)(6, 4), f(6, 4), 1e-12);  // beyond both edges: extended bilinearly
}

TEST(Grid2D, RejectsBadAxes) {
  EXPECT_FALSE(Grid2D::make({0, 0}, {1}, {1, 2}).ok());  // not increasing
  EXPECT_FALSE(Grid2D::make({0, 1}, {1}, {1}).ok());     // too few values
}

}  // namespace
}  // namespace sarathi::sim
