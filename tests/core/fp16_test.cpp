#include "core/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace sarathi::core {
namespace {

TEST(Fp16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << "half bits " << h;
  }
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // ties to even -> inf
  EXPECT_EQ(f32_to_f16(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(2.9802322e-8f), 0x0000);  // exactly half of it: ties to even
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
}

// Round to nearest even against a double-precision construction of the two neighbours.
TEST(Fp16, RoundsToNearestEvenOnRandomFloats) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exp_dist(-26.0f, 16.5f);
  for (int i = 0; i < 200000; ++i) {
    const float f = std::ldexp(1.0f + static_cast<float>(rng() % 1000000) / 1e6f,
                               static_cast<int>(exp_dist(rng))) * ((rng() & 1) ? -1.0f : 1.0f);
    const uint16_t h = f32_to_f16(f);
    const double got = f16_to_f32(h);
    // neighbours
    const double lo = f16_to_f32(static_cast<uint16_t>(h - ((h & 0x7fff) ? 1 : 0)));
    const double hi = f16_to_f32(static_cast<uint16_t>(h + 1));
    if (std::isinf(got)) continue;
    EXPECT_LE(std::fabs(got - f), std::fabs(lo - f) + 1e-30) << f;
    EXPECT_LE(std::fabs(got - f), std::fabs(hi - f) + 1e-30) << f;
  }
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

}  // namespace
}  // namespace sarathi::core
