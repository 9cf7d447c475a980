#include "sim/interp.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sarathi::sim {

using core::ErrorCode;
using core::make_error;

namespace {

// The segment [i, i + 1] of sorted xs used for x (the first or last one beyond the ends) and the
// weight of xs[i + 1]; with one sample, segment 0 and weight 0.
std::pair<size_t, double> locate(const std::vector<double>& xs, double x) {
  if (xs.size() < 2) return {0, 0.0};
  const auto it = std::upper_bound(xs.begin() + 1, xs.end() - 1, x);
  const size_t i = static_cast<size_t>(it - xs.begin()) - 1;
  return {i, (x - xs[i]) / (xs[i + 1] - xs[i])};
}

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double d) { return std::isfinite(d); });
}

bool strictly_increasing(const std::vector<double>& v) {
  return std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end();
}

}  // namespace

core::Result<Table1D> Table1D::make(std::vector<double> x, std::vector<double> y) {
  if (x.empty() || x.size() != y.size() || !all_finite(x) || !all_finite(y))
    return make_error(ErrorCode::kInvalidArgument,
                      "a table needs as many finite y as x values (at least one)");
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  Table1D t;
  for (size_t k = 0; k < order.size();) {
    size_t e = k;
    double sum = 0;
    while (e < order.size() && x[order[e]] == x[order[k]]) sum += y[order[e++]];
    t.x_.push_back(x[order[k]]);
    t.y_.push_back(sum / static_cast<double>(e - k));
    k = e;
  }
  return t;
}

double Table1D::operator()(double x) const {
  if (x_.empty()) return 0.0;
  const auto [i, f] = locate(x_, x);
  if (x_.size() < 2) return std::max(0.0, y_[0]);
  return std::max(0.0, y_[i] + f * (y_[i + 1] - y_[i]));
}

core::Result<Grid2D> Grid2D::make(std::vector<double> xs, std::vector<double> ys,
                                  std::vector<double> z) {
  if (xs.empty() || ys.empty() || z.size() != xs.size() * ys.size() || !all_finite(xs) ||
      !all_finite(ys) || !all_finite(z) || !strictly_increasing(xs) || !strictly_increasing(ys))
    return make_error(ErrorCode::kInvalidArgument,
                      "a grid needs strictly increasing finite axes and one finite value per "
                      "point");
  Grid2D g;
  g.xs_ = std::move(xs);
  g.ys_ = std::move(ys);
  g.z_ = std::move(z);
  return g;
}

double Grid2D::operator()(double x, double y) const {
  if (xs_.empty()) return 0.0;
  const size_t ny = ys_.size();
  const auto [i, fx] = locate(xs_, x);
  const auto [j, fy] = locate(ys_, y);
  auto at = [&](size_t a, size_t b) { return z_[a * ny + b]; };
  auto along_y = [&](size_t a) {
    return ny < 2 ? at(a, 0) : at(a, j) + fy * (at(a, j + 1) - at(a, j));
  };
  const double lo = along_y(i);
  const double v = xs_.size() < 2 ? lo : lo + fx * (along_y(i + 1) - lo);
  return std::max(0.0, v);
}

}  // namespace sarathi::sim
