#include "engine/metrics.h"

#include <cmath>

#include <fmt/format.h>

#include <algorithm>

namespace sarathi::engine {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  ++counts_[static_cast<size_t>(it - bounds_.begin())];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cum = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i];
    const std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, cum);
  }
  out += fmt::format("{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, sum_, name, labels,
                     count_);
}

namespace {
// vLLM's bucket bounds for the latency histograms.
const std::vector<double> kTtft = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                                   0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
                                   640.0, 2560.0};
const std::vector<double> kItl = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                                  0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kE2e = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
                                  30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
                                  7680.0};
const std::vector<double> kTokens = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
                                     8192};
const std::vector<double> kStep = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                                   10.0};

std::string escape_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

Metrics::Metrics(std::string model_name)
    : labels_(fmt::format("model_name=\"{}\"", escape_label(model_name))),
      ttft_(kTtft), itl_(kItl), e2e_(kE2e), queue_(kE2e), step_prefill_(kTokens),
      step_decode_(kTokens), step_duration_(kStep) {}

void Metrics::on_request_done(const RequestRecord& rec) {
  const RequestTimes& t = rec.times;
  if (rec.finish != FinishReason::kAbort || !rec.output.empty())
    generation_tokens_ += rec.output.size();
  prompt_tokens_ += static_cast<uint64_t>(rec.num_prompt_tokens);
  ++success_[std::string(finish_reason_name(rec.finish))];
  if (t.first_token >= 0) ttft_.observe(t.first_token - t.arrival);
  for (size_t i = 1; i < t.token_times.size(); ++i)
    itl_.observe(t.token_times[i] - t.token_times[i - 1]);
  if (t.finish >= 0) e2e_.observe(t.finish - t.arrival);
  if (t.first_scheduled >= 0) queue_.observe(t.first_scheduled - t.arrival);
}

void Metrics::on_step(const StepStats& s) {
  step_prefill_.observe(s.num_prefill_tokens);
  step_decode_.observe(s.num_decode_tokens);
  step_duration_.observe(s.duration_s);
  if (s.decodes_over_slo) ++steps_over_slo_;
  if (s.predicted_s > 0 && s.duration_s > 0) {
    const double err = std::abs(s.predicted_s / s.duration_s - 1.0);
    rel_error_ewma_ = steps_predicted_ == 0 ? err : 0.98 * rel_error_ewma_ + 0.02 * err;
    ++steps_predicted_;
  }
}

void Metrics::set_slo(double tbt_slo_s, double step_target_s) {
  tbt_slo_s_ = tbt_slo_s;
  step_target_s_ = step_target_s;
}

void Metrics::set_gauges(int32_t running, int32_t waiting, double kv_usage, int64_t preemptions) {
  running_ = running;
  waiting_ = waiting;
  kv_usage_ = kv_usage;
  preemptions_ = preemptions;
}

std::string Metrics::render() const {
  std::string o;
  auto gauge = [&](const char* name, const char* help, double v) {
    o += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{}{{{}}} {}\n", name, help, name, name,
                     labels_, v);
  };
  auto counter = [&](const char* name, const char* help, double v) {
    o += fmt::format("# HELP {} {}\n# TYPE {} counter\n{}{{{}}} {}\n", name, help, name, name,
                     labels_, v);
  };
  auto hist = [&](const char* name, const char* help, const Histogram& h) {
    o += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
    h.render(o, name, labels_);
  };
  gauge("vllm:num_requests_running", "Number of requests in model execution batches.", running_);
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting_);
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv_usage_);
  counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.",
          static_cast<double>(prompt_tokens_));
  counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
          static_cast<double>(generation_tokens_));
  counter("vllm:num_preemptions_total", "Cumulative number of preemptions from the engine.",
          static_cast<double>(preemptions_));
  counter("vllm:prefix_cache_queries_total",
          "Prefix cache queries, in terms of number of queried tokens.",
          static_cast<double>(prefix_queries_));
  counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
          static_cast<double>(prefix_hits_));
  o += "# HELP vllm:request_success_total Count of finished requests by finish reason.\n"
       "# TYPE vllm:request_success_total counter\n";
  for (const char* reason : {"stop", "length", "abort"}) {
    const auto it = success_.find(reason);
    o += fmt::format("vllm:request_success_total{{{},finished_reason=\"{}\"}} {}\n", labels_,
                     reason, it == success_.end() ? 0 : it->second);
  }
  hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft_);
  hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itl_);
  hist("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.",
       e2e_);
  hist("vllm:request_queue_time_seconds",
       "Histogram of time spent in WAITING phase for request.", queue_);
  hist("sarathi:step_prefill_tokens", "Prefill tokens per engine step.", step_prefill_);
  hist("sarathi:step_decode_tokens", "Decode tokens per engine step.", step_decode_);
  hist("sarathi:step_duration_seconds", "Duration of an engine step in seconds.", step_duration_);
  gauge("sarathi:tbt_slo_seconds", "The time-between-tokens SLO chunking plans to (0: none).",
        tbt_slo_s_);
  gauge("sarathi:step_target_seconds", "The predicted step duration chunking keeps within.",
        step_target_s_);
  o += "# HELP sarathi:step_cost_model_seconds Step-cost model: seconds per unit of each term "
       "(base: per step; token; seq; mpair: per million query-key pairs attended).\n"
       "# TYPE sarathi:step_cost_model_seconds gauge\n";
  const char* terms[] = {"base", "token", "seq", "mpair"};
  for (int i = 0; i < sched::StepCostModel::kNumTerms; ++i)
    o += fmt::format("sarathi:step_cost_model_seconds{{{},term=\"{}\"}} {}\n", labels_, terms[i],
                     cost_model_.coefs()[static_cast<size_t>(i)]);
  gauge("sarathi:step_cost_model_relative_error",
        "Moving average of |predicted / measured step duration - 1|.", rel_error_ewma_);
  counter("sarathi:steps_decodes_over_slo_total",
          "Steps whose running decodes alone were predicted beyond the SLO's step target.",
          static_cast<double>(steps_over_slo_));
  return o;
}

}  // namespace sarathi::engine
