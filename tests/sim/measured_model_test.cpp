// The step-time model measured on this machine, on profiles made from a known truth: exact at
// the measured points, interpolated between them, the query-key pair cost recovered from chunks
// at later positions, the held-out hybrid error, and step factors drawn by step length.
#include "sim/measured_model.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sarathi::sim {
namespace {

using nlohmann::json;

// The truth: a chunk of T tokens costs F(T) = 1 ms + 0.1 ms/token plus 20 ns per query-key pair;
// B decodes at position L add B * (50 us + 10 ns * L) beyond F(B).
constexpr double kPair = 2e-8;
double F(double t) { return 1e-3 + 1e-4 * t; }
double E(double b, double l) { return b * (5e-5 + 1e-8 * l); }
double pairs(double t, double pos) { return t * pos + t * (t + 1) / 2; }

json profile(std::function<double(double)> f = F) {
  json j = {{"format", "sarathi-step-profile/1"},
            {"model",
             {{"name", "truth"},
              {"n_layer", 2},
              {"n_embd", 64},
              {"n_head", 4},
              {"n_head_kv", 4},
              {"head_dim", 16},
              {"n_vocab", 100},
              {"n_ctx", 2048},
              {"kv_bytes_per_token", 256}}},
            {"overhead", {{"per_step_s", 1e-4}, {"per_seq_s", 1e-5}}}};
  for (int t : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512})
    j["prefill"].push_back(
        {{"tokens", t}, {"position", 0}, {"seconds", f(t) + kPair * pairs(t, 0)}});
  for (int pos : {256, 512})
    j["prefill"].push_back(
        {{"tokens", 64}, {"position", pos}, {"seconds", f(64) + kPair * pairs(64, pos)}});
  for (int b : {1, 4, 16})
    for (int l : {16, 256, 1024})
      j["decode"].push_back({{"batch", b}, {"context", l}, {"seconds", f(b) + E(b, l)}});
  j["hybrid"].push_back({{"decodes", 7},
                         {"context", 512},
                         {"chunk", 128},
                         {"seconds", f(135) + kPair * pairs(128, 0) + E(7, 512)}});
  return j;
}

StepWork step(std::initializer_list<std::array<int, 2>> decodes, std::array<int, 2> chunk) {
  StepWork w;
  for (const auto& [n, pos] : decodes)
    for (int i = 0; i < n; ++i) w.add(pos, 1, true, true);
  if (chunk[0] > 0) w.add(chunk[1], chunk[0], false, true);
  return w;
}

TEST(MeasuredModel, ExactAtMeasuredPointsAndRecoversThePairCost) {
  auto m = MeasuredModel::parse(profile().dump(), "truth.json");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_NEAR((*m)->pair_cost_s(), kPair, 1e-15);
  for (int t : {1, 16, 512})  // chunks at position 0
    EXPECT_NEAR((*m)->predict(step({}, {t, 0})).stage_s, F(t) + kPair * pairs(t, 0), 1e-12);
  EXPECT_NEAR((*m)->predict(step({}, {64, 512})).stage_s, F(64) + kPair * pairs(64, 512), 1e-12);
  for (int b : {1, 4, 16})
    for (int l : {16, 256, 1024})
      EXPECT_NEAR((*m)->predict(step({{b, l}}, {0, 0})).stage_s, F(b) + E(b, l), 1e-12)
          << b << " decodes at " << l;
  // The truth is linear in tokens and bilinear in (decodes, context): the held-out hybrid step
  // is predicted exactly.
  EXPECT_LT((*m)->hybrid_max_error(), 1e-9);
}

TEST(MeasuredModel, InterpolatesBetweenGridPoints) {
  auto m = MeasuredModel::parse(profile().dump(), "truth.json");
  ASSERT_TRUE(m.ok());
  // Between measured chunk lengths, contexts and batch sizes; several chunks at later
  // positions; decodes at different contexts (their mean counts).
  EXPECT_NEAR((*m)->predict(step({}, {100, 0})).stage_s, F(100) + kPair * pairs(100, 0), 1e-12);
  EXPECT_NEAR((*m)->predict(step({{10, 600}}, {0, 0})).stage_s, F(10) + E(10, 600), 1e-12);
  EXPECT_NEAR((*m)->predict(step({{3, 100}, {3, 300}}, {0, 0})).stage_s, F(6) + E(6, 200), 1e-12);
  EXPECT_NEAR((*m)->predict(step({{5, 700}}, {200, 300})).stage_s,
              F(205) + kPair * pairs(200, 300) + E(5, 700), 1e-12);
  // The engine's own CPU time: per step and per scheduled sequence.
  EXPECT_NEAR((*m)->predict(step({{5, 700}}, {200, 300})).overhead_s, 1e-4 + 6 * 1e-5, 1e-15);
}

TEST(MeasuredModel, NonLinearCostsAreInterpolatedLinearlyBetweenPoints) {
  // A chunk cost quadratic in tokens: at T = 3, between the samples at 2 and 4, the model is
  // their linear interpolation (10 ms), not the truth (9 ms); at the samples it is exact.
  auto sq = [](double t) { return 1e-3 * t * t; };
  auto m = MeasuredModel::parse(profile(sq).dump(), "sq.json");
  ASSERT_TRUE(m.ok());
  const double c = (*m)->pair_cost_s();
  EXPECT_NEAR((*m)->predict(step({}, {4, 0})).stage_s, sq(4) + kPair * pairs(4, 0), 1e-12);
  EXPECT_NEAR(c, kPair, 1e-15);  // from the chunks at later positions, as before
  EXPECT_NEAR((*m)->predict(step({}, {3, 0})).stage_s, 0.5 * (sq(2) + sq(4)) + c * pairs(3, 0),
              1e-12);
  EXPECT_GT((*m)->hybrid_max_error(), 0.0);  // held out: the model is not exact there
}

TEST(MeasuredModel, DecodesCheaperThanAChunkOfAsManyTokensStayExact) {
  // As measured on a 2-core Xeon: a one-sequence decode step cheaper than a 1-token chunk at
  // position 0. The decode grid is still exact, and a hybrid step costs the decodes' step plus
  // what the chunk's tokens add to F.
  json j = profile();
  const auto cheap = [](double b, double l) { return 0.6 * F(b) + E(b, l); };
  j["decode"].clear();
  for (int b : {1, 4, 16})
    for (int l : {16, 256, 1024})
      j["decode"].push_back({{"batch", b}, {"context", l}, {"seconds", cheap(b, l)}});
  auto m = MeasuredModel::parse(j.dump(), "cheap.json");
  ASSERT_TRUE(m.ok()) << m.error().message;
  for (int b : {1, 4, 16})
    for (int l : {16, 256, 1024})
      EXPECT_NEAR((*m)->predict(step({{b, l}}, {0, 0})).stage_s, cheap(b, l), 1e-12)
          << b << " decodes at " << l;
  EXPECT_NEAR((*m)->predict(step({{4, 256}}, {128, 0})).stage_s,
              F(132) - F(4) + kPair * pairs(128, 0) + cheap(4, 256), 1e-12);
  EXPECT_NEAR((*m)->predict(step({}, {128, 0})).stage_s, F(128) + kPair * pairs(128, 0), 1e-12);
}

TEST(MeasuredModel, StepFactorsComeFromStepsOfSimilarLength) {
  json j = profile();
  std::vector<double> slow(40, 2.0), steady(40, 1.0);
  j["spread"] = {{{"seconds", 1e-3}, {"ratios", slow}}, {{"seconds", 1.0}, {"ratios", steady}}};
  auto m = MeasuredModel::parse(j.dump(), "spread.json");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE((*m)->has_spread());
  for (uint64_t r : {0ull, 7ull, 12345ull}) {
    EXPECT_DOUBLE_EQ((*m)->step_factor(1.2e-3, r), 2.0);
    EXPECT_DOUBLE_EQ((*m)->step_factor(0.9, r), 1.0);
    EXPECT_DOUBLE_EQ((*m)->step_factor(50.0, r), 1.0);  // beyond: the longest steps measured
  }
  auto plain = MeasuredModel::parse(profile().dump(), "plain.json");
  EXPECT_FALSE((*plain)->has_spread());
  EXPECT_DOUBLE_EQ((*plain)->step_factor(1.0, 3), 1.0);
}

TEST(MeasuredModel, RejectsWhatIsNotAProfile) {
  EXPECT_FALSE(MeasuredModel::parse("{", "x").ok());
  EXPECT_FALSE(MeasuredModel::parse(R"({"format": "other"})", "x").ok());
  json j = profile();
  j["decode"].erase(j["decode"].begin() + 4);  // a hole in the batch x context grid
  auto holey = MeasuredModel::parse(j.dump(), "holey.json");
  ASSERT_FALSE(holey.ok());
  EXPECT_NE(holey.error().message.find("grid"), std::string::npos);
  json k = profile();
  k.erase("prefill");
  EXPECT_FALSE(MeasuredModel::parse(k.dump(), "nochunks.json").ok());
  EXPECT_FALSE(MeasuredModel::read("/nonexistent/profile.json").ok());
}

}  // namespace
}  // namespace sarathi::sim
