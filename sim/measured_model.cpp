#include "sim/measured_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace sarathi::sim {

using core::ErrorCode;
using core::make_error;
using nlohmann::json;

namespace {

struct Point {
  int32_t a = 0, b = 0, c = 0;
  double seconds = 0;
};

// Reads an array of objects with integer fields `keys` (up to 3) and "seconds" > 0.
core::Result<std::vector<Point>> points(const json& j, const char* field,
                                        std::initializer_list<const char*> keys,
                                        const std::string& name) {
  std::vector<Point> out;
  if (!j.contains(field)) return out;
  if (!j.at(field).is_array())
    return make_error(ErrorCode::kInvalidFormat, "{}: '{}' is not an array", name, field);
  for (const json& e : j.at(field)) {
    Point p;
    int k = 0;
    for (const char* key : keys) {
      if (!e.contains(key) || !e.at(key).is_number_integer() || e.at(key).get<int64_t>() < 0)
        return make_error(ErrorCode::kInvalidFormat, "{}: a '{}' entry lacks a count '{}'", name,
                          field, key);
      (k == 0 ? p.a : k == 1 ? p.b : p.c) = e.at(key).get<int32_t>();
      ++k;
    }
    if (!e.contains("seconds") || !e.at("seconds").is_number() ||
        !(e.at("seconds").get<double>() > 0))
      return make_error(ErrorCode::kInvalidFormat, "{}: a '{}' entry lacks seconds > 0", name,
                        field);
    p.seconds = e.at("seconds").get<double>();
    out.push_back(p);
  }
  return out;
}

}  // namespace

core::Result<std::unique_ptr<MeasuredModel>> MeasuredModel::read(const std::string& path) {
  std::ifstream f(path);
  if (!f) return make_error(ErrorCode::kNotFound, "cannot open profile {}", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path);
}

core::Result<std::unique_ptr<MeasuredModel>> MeasuredModel::parse(const std::string& text,
                                                                  const std::string& name) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInvalidFormat, "{}: not JSON: {}", name, e.what());
  }
  if (!j.is_object() || j.value("format", "") != "sarathi-step-profile/1")
    return make_error(ErrorCode::kInvalidFormat,
                      "{}: not a step profile (format sarathi-step-profile/1; write one with "
                      "`sarathi bench profile --json FILE`)",
                      name);
  std::unique_ptr<MeasuredModel> m(new MeasuredModel());
  try {
    const json& s = j.at("model");
    m->shape_ = {.name = s.at("name").get<std::string>(),
                 .n_layer = s.at("n_layer").get<int32_t>(),
                 .n_embd = s.at("n_embd").get<int32_t>(),
                 .n_head = s.at("n_head").get<int32_t>(),
                 .n_head_kv = s.at("n_head_kv").get<int32_t>(),
                 .head_dim = s.at("head_dim").get<int32_t>(),
                 .n_vocab = s.at("n_vocab").get<int32_t>(),
                 .n_ctx = s.at("n_ctx").get<int32_t>(),
                 .kv_bytes_per_token = s.at("kv_bytes_per_token").get<int64_t>()};
    m->source_ = fmt::format("{} threads, kernels {}, KV {}", j.value("threads", 0),
                             j.value("isa", "?"), j.value("kv_type", "?"));
    if (j.contains("overhead")) {
      m->step_overhead_s_ = std::max(0.0, j.at("overhead").value("per_step_s", 0.0));
      m->seq_overhead_s_ = std::max(0.0, j.at("overhead").value("per_seq_s", 0.0));
    }
    if (j.contains("spread")) m->build_spread(j.at("spread"));
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInvalidFormat, "{}: {}", name, e.what());
  }
  if (m->shape_.n_ctx < 2 || m->shape_.kv_bytes_per_token < 1)
    return make_error(ErrorCode::kInvalidFormat, "{}: the model shape is incomplete", name);
  SARATHI_ASSIGN_OR_RETURN(auto prefill, points(j, "prefill", {"tokens", "position"}, name));
  SARATHI_ASSIGN_OR_RETURN(auto decode, points(j, "decode", {"batch", "context"}, name));
  SARATHI_ASSIGN_OR_RETURN(auto hybrid, points(j, "hybrid", {"decodes", "context", "chunk"}, name));

  // c_pair: least squares through 0 of (t(T, P) - t(T, 0)) against the T * P extra pairs.
  std::map<int32_t, double> at_zero;
  for (const Point& p : prefill)
    if (p.b == 0) at_zero[p.a] = p.seconds;
  if (at_zero.empty())
    return make_error(ErrorCode::kInvalidFormat, "{}: no prefill chunk measured at position 0",
                      name);
  double sxy = 0, sxx = 0;
  for (const Point& p : prefill) {
    if (p.b == 0 || !at_zero.contains(p.a)) continue;
    const double x = double(p.a) * p.b;
    sxy += x * (p.seconds - at_zero[p.a]);
    sxx += x * x;
  }
  m->pair_s_ = sxx > 0 ? std::max(0.0, sxy / sxx) : 0.0;
  std::vector<double> xs, ys;
  for (const auto& [t, s] : at_zero) {
    xs.push_back(t);
    ys.push_back(std::max(0.0, s - m->pair_s_ * (double(t) * (t + 1) / 2)));
  }
  SARATHI_ASSIGN_OR_RETURN(m->chunk_, Table1D::make(xs, ys));

  // G(D, L) = t_decode(D, L) over the full grid of measured batches and contexts, with a D = 0
  // row of F(0) (a step without decodes is F(T) alone).
  std::set<int32_t> batches, contexts;
  std::map<std::pair<int32_t, int32_t>, double> dec;
  for (const Point& p : decode) {
    if (p.a < 1) continue;
    batches.insert(p.a);
    contexts.insert(p.b);
    dec[{p.a, p.b}] = p.seconds;
  }
  if (dec.empty())
    return make_error(ErrorCode::kInvalidFormat, "{}: no decode steps measured", name);
  if (dec.size() != batches.size() * contexts.size())
    return make_error(ErrorCode::kInvalidFormat,
                      "{}: the decode points do not form a full batch x context grid", name);
  std::vector<double> bx{0.0}, cy(contexts.begin(), contexts.end()), z(cy.size(), m->chunk_(0));
  for (int32_t b : batches) {
    bx.push_back(b);
    for (int32_t c : contexts) z.push_back(dec[{b, c}]);
  }
  SARATHI_ASSIGN_OR_RETURN(m->decode_, Grid2D::make(bx, cy, z));

  // Held out: a chunk of C at position 0 with D decodes at context L.
  double sum_err = 0;
  for (const Point& p : hybrid) {
    StepWork w;
    for (int32_t d = 0; d < p.a; ++d) w.add(p.b, 1, true, true);
    w.add(0, p.c, false, true);
    const StepTime t = m->predict(w);
    const double err = std::abs((t.stage_s) / p.seconds - 1.0);
    sum_err += err;
    m->hybrid_max_err_ = std::max(m->hybrid_max_err_, err);
    ++m->num_hybrid_;
  }
  m->hybrid_mean_err_ = m->num_hybrid_ > 0 ? sum_err / m->num_hybrid_ : 0.0;
  return m;
}

void MeasuredModel::build_spread(const json& points) {
  std::map<int, std::vector<double>> by_length;  // floor(log2(median seconds)) -> ratios
  for (const json& p : points) {
    const double med = p.value("seconds", 0.0);
    if (!(med > 0) || !std::isfinite(med) || !p.contains("ratios")) continue;
    for (const json& r : p.at("ratios"))
      if (r.is_number() && r.get<double>() > 0 && std::isfinite(r.get<double>())) {
        by_length[static_cast<int>(std::floor(std::log2(med)))].push_back(r.get<double>());
        ++num_spread_;
      }
  }
  if (by_length.empty()) return;
  spread_min_log2_ = by_length.begin()->first;
  const int max_log2 = by_length.rbegin()->first;
  for (int b = spread_min_log2_; b <= max_log2; ++b) {
    std::vector<double> pool;
    for (int k = 0; pool.size() < kMinPool && k <= max_log2 - spread_min_log2_; ++k) {
      pool.clear();
      for (int n = b - k; n <= b + k; ++n)
        if (auto it = by_length.find(n); it != by_length.end())
          pool.insert(pool.end(), it->second.begin(), it->second.end());
    }
    std::sort(pool.begin(), pool.end());
    spread_.push_back(std::move(pool));
  }
}

double MeasuredModel::step_factor(double predicted_s, uint64_t random) const {
  if (spread_.empty() || !(predicted_s > 0)) return 1.0;
  const int b = std::clamp(static_cast<int>(std::floor(std::log2(predicted_s))) - spread_min_log2_,
                           0, static_cast<int>(spread_.size()) - 1);
  const auto& pool = spread_[static_cast<size_t>(b)];
  return pool[static_cast<size_t>(random % pool.size())];
}

StepTime MeasuredModel::predict(const StepWork& w) const {
  StepTime t;
  // The prefill tokens' share: F(T) - F(D), what T tokens cost beyond D of them.
  const double prefill_s = std::max(0.0, chunk_(w.num_tokens) - chunk_(w.num_decodes));
  t.stage_s = prefill_s + pair_s_ * static_cast<double>(w.prefill_pairs) +
              decode_(w.num_decodes, std::max(0.0, w.mean_decode_context() - 1));
  t.overhead_s = step_overhead_s_ + seq_overhead_s_ * (w.num_decodes + w.num_prefill_chunks);
  return t;
}

std::string MeasuredModel::describe() const {
  return fmt::format(
      "measured on this machine: {} ({}); a step is F(tokens) - F(decodes) + {:.3g} us per "
      "prefill query-key pair + G(decodes, mean context), F over {} chunk lengths ({}..{} "
      "tokens), G over a decode grid; engine CPU {:.3g} ms per step + {:.3g} ms per sequence; "
      "held-out hybrid steps ({}): mean error {:.1f}%, max {:.1f}%; step-time spread from {} "
      "timed runs",
      shape_.name, source_, pair_s_ * 1e6, chunk_.xs().size(), chunk_.xs().front(),
      chunk_.xs().back(), step_overhead_s_ * 1e3, seq_overhead_s_ * 1e3, num_hybrid_,
      hybrid_mean_err_ * 100, hybrid_max_err_ * 100, num_spread_);
}

}  // namespace sarathi::sim
