#include "workload/workload.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

namespace sarathi::workload {

using core::ErrorCode;
using core::make_error;

namespace {

bool parse_int(std::string_view s, int32_t& out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

core::Result<std::vector<RequestSpec>> parse_length_csv(const std::string& text,
                                                        const std::string& name) {
  std::vector<RequestSpec> out;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const size_t comma = line.find(',');
    RequestSpec r;
    const bool ok = comma != std::string::npos &&
                    parse_int(std::string_view(line).substr(0, comma), r.input_len) &&
                    parse_int(std::string_view(line).substr(comma + 1), r.output_len);
    if (!ok) {
      if (out.empty() && line_no == 1) continue;  // header
      return make_error(ErrorCode::kInvalidFormat,
                        "{}:{}: expected 'input_len,output_len', got '{}'", name, line_no, line);
    }
    if (r.input_len < 1 || r.output_len < 1)
      return make_error(ErrorCode::kInvalidFormat, "{}:{}: lengths must be at least 1", name,
                        line_no);
    out.push_back(r);
  }
  if (out.empty()) return make_error(ErrorCode::kInvalidFormat, "{}: no length rows", name);
  return out;
}

core::Result<std::vector<RequestSpec>> make_workload(const WorkloadOptions& o) {
  if (o.num_prompts < 1)
    return make_error(ErrorCode::kInvalidArgument, "--num-prompts must be at least 1");
  if (o.range_ratio < 0 || o.range_ratio >= 1)
    return make_error(ErrorCode::kInvalidArgument, "--range-ratio must be in [0, 1)");
  if (!(o.request_rate > 0))
    return make_error(ErrorCode::kInvalidArgument, "--request-rate must be positive (or inf)");
  std::mt19937_64 rng(o.seed);
  std::vector<RequestSpec> reqs(static_cast<size_t>(o.num_prompts));
  if (!o.dataset.empty()) {
    std::ifstream f(o.dataset);
    if (!f) return make_error(ErrorCode::kNotFound, "cannot open dataset {}", o.dataset);
    std::stringstream ss;
    ss << f.rdbuf();
    SARATHI_ASSIGN_OR_RETURN(auto rows, parse_length_csv(ss.str(), o.dataset));
    for (size_t i = 0; i < reqs.size(); ++i) reqs[i] = rows[i % rows.size()];
  } else {
    if (o.input_len < 1 || o.output_len < 1)
      return make_error(ErrorCode::kInvalidArgument, "--input-len and --output-len must be >= 1");
    auto draw = [&](int32_t len) {
      const auto lo = static_cast<int32_t>(std::max(1.0, std::floor(len * (1 - o.range_ratio))));
      const auto hi = static_cast<int32_t>(std::ceil(len * (1 + o.range_ratio)));
      return lo >= hi ? lo : std::uniform_int_distribution<int32_t>(lo, hi)(rng);
    };
    for (auto& r : reqs) {
      r.input_len = draw(o.input_len);
      r.output_len = draw(o.output_len);
    }
  }
  double t = 0;
  if (std::isfinite(o.request_rate)) {
    std::exponential_distribution<double> gap(o.request_rate);
    for (auto& r : reqs) {
      t += gap(rng);
      r.arrival_s = t;
    }
  }
  return reqs;
}

}  // namespace sarathi::workload
