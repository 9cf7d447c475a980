#include "sched/cost_model.h"

#include <algorithm>

#include <fmt/format.h>

namespace sarathi::sched {

int64_t StepShape::attended_pairs(int32_t first_pos, int32_t n) {
  return int64_t{n} * first_pos + int64_t{n} * (n + 1) / 2;
}

void StepShape::add_chunk(int32_t first_pos, int32_t n) {
  num_tokens += n;
  num_seqs += 1;
  num_attended += attended_pairs(first_pos, n);
}

StepCostModel::StepCostModel(const Coefs& c) {
  for (int i = 0; i < kNumTerms; ++i) c_[i] = std::max(0.0, c[i]);
}

std::array<double, StepCostModel::kNumTerms> StepCostModel::features(const StepShape& s) {
  return {1.0, double(s.num_tokens), double(s.num_seqs), double(s.num_attended) * 1e-6};
}

double StepCostModel::predict(const StepShape& s) const {
  const auto x = features(s);
  double t = 0;
  for (int i = 0; i < kNumTerms; ++i) t += c_[i] * x[i];
  return t;
}

bool StepCostModel::valid() const {
  return std::any_of(c_.begin(), c_.end(), [](double c) { return c > 0; });
}

std::string StepCostModel::describe() const {
  return fmt::format("t = {:.2f} ms + {:.4f} ms/token + {:.4f} ms/seq + {:.3f} ms/M pairs",
                     c_[0] * 1e3, c_[1] * 1e3, c_[2] * 1e3, c_[3] * 1e3);
}

int32_t max_chunk_within(const StepCostModel& model, const StepShape& base, int32_t first_pos,
                         int32_t max_tokens, double target_s) {
  auto fits = [&](int32_t n) {
    StepShape s = base;
    s.add_chunk(first_pos, n);
    return model.predict(s) <= target_s;
  };
  if (max_tokens <= 0 || !fits(1)) return 0;
  if (fits(max_tokens)) return max_tokens;
  int32_t lo = 1, hi = max_tokens;  // fits(lo), !fits(hi); the cost grows with n
  while (hi - lo > 1) {
    const int32_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace sarathi::sched
