#include "workload/workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "workload/csv_table.h"

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

core::Result<Dataset> parse_dataset(const std::string& text, const std::string& name) {
  const std::string_view first_line = std::string_view(text).substr(0, text.find('\n'));
  if (first_line.find("num_prefill_tokens") == std::string_view::npos) {
    SARATHI_ASSIGN_OR_RETURN(auto rows, parse_length_csv(text, name));
    return Dataset{.requests = std::move(rows)};
  }
  SARATHI_ASSIGN_OR_RETURN(const CsvTable t, CsvTable::parse(text, name));
  SARATHI_ASSIGN_OR_RETURN(const auto in, t.numbers("num_prefill_tokens"));
  SARATHI_ASSIGN_OR_RETURN(const auto out, t.numbers("num_decode_tokens"));
  Dataset d;
  d.has_arrivals = t.column("arrived_at") >= 0;
  std::vector<double> at(in.size(), 0.0);
  if (d.has_arrivals) {
    SARATHI_ASSIGN_OR_RETURN(at, t.numbers("arrived_at"));
  }
  for (size_t i = 0; i < in.size(); ++i) {
    if (!(in[i] >= 1) || !(out[i] >= 1) || in[i] > 1e9 || out[i] > 1e9) continue;
    d.requests.push_back({.arrival_s = at[i],
                          .input_len = static_cast<int32_t>(in[i]),
                          .output_len = static_cast<int32_t>(out[i])});
  }
  if (d.requests.empty()) return make_error(ErrorCode::kInvalidFormat, "{}: no requests", name);
  if (d.has_arrivals &&
      !std::is_sorted(d.requests.begin(), d.requests.end(),
                      [](const RequestSpec& a, const RequestSpec& b) { return a.arrival_s < b.arrival_s; }))
    return make_error(ErrorCode::kInvalidFormat, "{}: arrived_at is not in order", name);
  return d;
}

int64_t clip_to_model_len(std::vector<RequestSpec>& requests, int32_t max_len) {
  int64_t n = 0;
  for (RequestSpec& r : requests) {
    if (int64_t{r.input_len} + r.output_len <= max_len) continue;
    ++n;
    r.output_len = std::min(r.output_len, max_len - 1);
    r.input_len = std::max(1, max_len - r.output_len);
  }
  return n;
}

namespace {

// Zipf over lengths [lo, hi]: P(lo + k) proportional to (k + 1)^-theta, by inverse CDF.
class ZipfLengths {
 public:
  ZipfLengths(int32_t lo, int32_t hi, double theta) : lo_(lo) {
    cdf_.resize(static_cast<size_t>(hi - lo + 1));
    double sum = 0;
    for (size_t k = 0; k < cdf_.size(); ++k) cdf_[k] = sum += std::pow(double(k + 1), -theta);
    for (double& c : cdf_) c /= sum;
  }
  int32_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return lo_ + static_cast<int32_t>(std::min<std::ptrdiff_t>(it - cdf_.begin(),
                                                               std::ssize(cdf_) - 1));
  }

 private:
  int32_t lo_;
  std::vector<double> cdf_;
};

core::Status check_options(const WorkloadOptions& o) {
  if (o.num_prompts < 1)
    return make_error(ErrorCode::kInvalidArgument, "--num-prompts must be at least 1");
  if (o.range_ratio < 0 || o.range_ratio >= 1)
    return make_error(ErrorCode::kInvalidArgument, "--range-ratio must be in [0, 1)");
  if (!(o.request_rate > 0))
    return make_error(ErrorCode::kInvalidArgument, "--request-rate must be positive (or inf)");
  if (o.arrival != "poisson" && o.arrival != "gamma" && o.arrival != "trace")
    return make_error(ErrorCode::kInvalidArgument,
                      "--arrival must be poisson, gamma or trace, not '{}'", o.arrival);
  if (!(o.arrival_cv > 0) || !std::isfinite(o.arrival_cv) || !(o.trace_time_scale > 0) ||
      !std::isfinite(o.trace_time_scale))
    return make_error(ErrorCode::kInvalidArgument,
                      "--arrival-cv and --trace-time-scale must be positive");
  if (o.length_dist != "uniform" && o.length_dist != "zipf")
    return make_error(ErrorCode::kInvalidArgument, "--length-dist must be uniform or zipf, not '{}'",
                      o.length_dist);
  if (!(o.zipf_theta > 0) || !std::isfinite(o.zipf_theta))
    return make_error(ErrorCode::kInvalidArgument, "--zipf-theta must be positive");
  return core::ok_status();
}

}  // namespace

core::Result<std::vector<RequestSpec>> make_workload(const WorkloadOptions& o) {
  SARATHI_RETURN_IF_ERROR(check_options(o));
  std::mt19937_64 rng(o.seed);
  std::vector<RequestSpec> reqs(static_cast<size_t>(o.num_prompts));
  bool trace_times = false;
  if (!o.dataset.empty()) {
    std::ifstream f(o.dataset);
    if (!f) return make_error(ErrorCode::kNotFound, "cannot open dataset {}", o.dataset);
    std::stringstream ss;
    ss << f.rdbuf();
    SARATHI_ASSIGN_OR_RETURN(const Dataset d, parse_dataset(ss.str(), o.dataset));
    const auto& rows = d.requests;
    trace_times = o.arrival == "trace";
    if (trace_times && !d.has_arrivals)
      return make_error(ErrorCode::kInvalidArgument,
                        "--arrival trace needs a dataset with an arrived_at column");
    // A repeated trace starts again one mean gap after its last arrival.
    const double span = rows.back().arrival_s - rows.front().arrival_s;
    const double period = span + (rows.size() > 1 ? span / double(rows.size() - 1) : 1.0);
    for (size_t i = 0; i < reqs.size(); ++i) {
      reqs[i] = rows[i % rows.size()];
      reqs[i].arrival_s = trace_times ? (reqs[i].arrival_s - rows.front().arrival_s +
                                         period * double(i / rows.size())) /
                                            o.trace_time_scale
                                      : 0.0;
    }
  } else {
    if (o.arrival == "trace")
      return make_error(ErrorCode::kInvalidArgument, "--arrival trace needs --dataset");
    if (o.input_len < 1 || o.output_len < 1)
      return make_error(ErrorCode::kInvalidArgument, "--input-len and --output-len must be >= 1");
    auto range = [&](int32_t len) {
      const auto lo = static_cast<int32_t>(std::max(1.0, std::floor(len * (1 - o.range_ratio))));
      const auto hi = static_cast<int32_t>(std::ceil(len * (1 + o.range_ratio)));
      return std::pair{lo, std::max(lo, hi)};
    };
    if (o.length_dist == "zipf") {
      const auto [in_lo, in_hi] = range(o.input_len);
      const auto [out_lo, out_hi] = range(o.output_len);
      const ZipfLengths in(in_lo, in_hi, o.zipf_theta), out(out_lo, out_hi, o.zipf_theta);
      for (auto& r : reqs) {
        r.input_len = in(rng);
        r.output_len = out(rng);
      }
    } else {
      auto draw = [&](int32_t len) {
        const auto [lo, hi] = range(len);
        return lo >= hi ? lo : std::uniform_int_distribution<int32_t>(lo, hi)(rng);
      };
      for (auto& r : reqs) {
        r.input_len = draw(o.input_len);
        r.output_len = draw(o.output_len);
      }
    }
  }
  if (!trace_times && std::isfinite(o.request_rate)) {
    double t = 0;
    if (o.arrival == "gamma") {
      const double shape = 1.0 / (o.arrival_cv * o.arrival_cv);
      std::gamma_distribution<double> gap(shape, 1.0 / (o.request_rate * shape));
      for (auto& r : reqs) r.arrival_s = t += gap(rng);
    } else {
      std::exponential_distribution<double> gap(o.request_rate);
      for (auto& r : reqs) r.arrival_s = t += gap(rng);
    }
  }
  return reqs;
}

}  // namespace sarathi::workload
