// sim/interp.h: piecewise-linear tables for the step-time models: a function of one variable
// sampled at points (Table1D) and of two over a rectangular grid (Grid2D). Exact at the sample
// points, linear between them, linear beyond the ends (from the two outermost samples), never
// below 0. Depends on core/ only.
#pragma once

#include <cstddef>
#include <vector>

#include "core/status.h"

namespace sarathi::sim {

/// y(x) from samples: piecewise linear, linearly extrapolated, clamped at >= 0.
class Table1D {
 public:
  Table1D() = default;
  /// Samples (x[i], y[i]), in any order; repeated x are averaged. Needs at least one sample and
  /// finite values.
  static core::Result<Table1D> make(std::vector<double> x, std::vector<double> y);
  /// The interpolated value at x.
  double operator()(double x) const;
  bool empty() const { return x_.empty(); }
  const std::vector<double>& xs() const { return x_; }
  const std::vector<double>& ys() const { return y_; }

 private:
  std::vector<double> x_, y_;  // x_ strictly increasing
};

/// z(x, y) over a grid xs x ys (z[i * ys.size() + j] at (xs[i], ys[j])): bilinear inside, linear
/// beyond the edges along each axis, clamped at >= 0.
class Grid2D {
 public:
  Grid2D() = default;
  /// xs and ys strictly increasing, z of size xs.size() * ys.size(), all finite.
  static core::Result<Grid2D> make(std::vector<double> xs, std::vector<double> ys,
                                   std::vector<double> z);
  double operator()(double x, double y) const;
  bool empty() const { return xs_.empty(); }

 private:
  std::vector<double> xs_, ys_, z_;
};

}  // namespace sarathi::sim
