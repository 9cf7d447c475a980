#include "engine/step_profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace sarathi::engine {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::ordered_json;

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Runs steps of decodes and (at most) one prefill chunk on the executor, blocks taken from the
// pool in order, wrapping around.
class Prober {
 public:
  Prober(Executor& exec, int32_t num_blocks, int32_t block_size)
      : exec_(exec), num_blocks_(std::max(1, num_blocks)), bs_(std::max(1, block_size)) {}

  // Times of `runs` runs (after one warm-up) of num_decodes decodes at position ctx plus, when
  // chunk > 0, a chunk [chunk_pos, chunk_pos + chunk) that wants its last token's logits.
  core::Result<std::vector<double>> time(int32_t num_decodes, int32_t ctx, int32_t chunk,
                                         int32_t chunk_pos, int32_t runs) {
    tables_.clear();
    tokens_.assign(static_cast<size_t>(std::max(chunk, 1)), 7);
    size_t next = 0;
    auto table = [&](int64_t num_tokens) {
      std::vector<int32_t> t(static_cast<size_t>((num_tokens + bs_ - 1) / bs_));
      for (auto& b : t) b = static_cast<int32_t>(next++ % static_cast<size_t>(num_blocks_));
      return t;
    };
    for (int32_t d = 0; d < num_decodes; ++d) tables_.push_back(table(int64_t{ctx} + 1));
    if (chunk > 0) tables_.push_back(table(int64_t{chunk_pos} + chunk));
    batch_.clear();
    for (int32_t d = 0; d < num_decodes; ++d)
      batch_.push_back(
          {std::span<const int32_t>(tokens_).first(1), ctx, tables_[static_cast<size_t>(d)], true});
    if (chunk > 0)
      batch_.push_back({std::span<const int32_t>(tokens_).first(static_cast<size_t>(chunk)),
                        chunk_pos, tables_.back(), true});
    std::vector<double> out;
    for (int32_t r = 0; r <= runs; ++r) {
      const auto t0 = Clock::now();
      SARATHI_RETURN_IF_ERROR(exec_.run(batch_));
      if (r > 0) out.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return out;
  }

 private:
  Executor& exec_;
  int32_t num_blocks_, bs_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<int32_t> tokens_;
  std::vector<ExecSeq> batch_;
};

// Returns zero logits at once: an engine over it spends only its own CPU time.
class NullExecutor final : public Executor {
 public:
  explicit NullExecutor(int32_t n_vocab) : n_vocab_(n_vocab) {}
  int32_t n_vocab() const override { return n_vocab_; }
  core::Result<std::span<const float>> run(std::span<const ExecSeq> batch) override {
    size_t rows = 0;
    for (const ExecSeq& s : batch) rows += s.want_logits ? 1 : 0;
    if (logits_.size() < rows * static_cast<size_t>(n_vocab_))
      logits_.resize(rows * static_cast<size_t>(n_vocab_), 0.0f);
    return std::span<const float>(logits_).first(rows * static_cast<size_t>(n_vocab_));
  }

 private:
  int32_t n_vocab_;
  std::vector<float> logits_;
};

// The engine's CPU time per step: t = per_step + per_seq * sequences, least squares over the
// steps of 48 requests (32-token prompts, 48 outputs) run at once over a NullExecutor.
core::Result<std::pair<double, double>> engine_overhead(int32_t n_vocab) {
  NullExecutor exec(n_vocab);
  sched::SchedulerConfig cfg;
  cfg.policy = "sarathi-serve";
  cfg.max_num_seqs = 64;
  cfg.num_kv_blocks = 4096;
  cfg.max_model_len = 256;
  cfg.enable_prefix_caching = false;
  SARATHI_ASSIGN_OR_RETURN(auto eng, Engine::create(exec, nullptr, {.sched = cfg}));
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 48; ++i) {
      RequestParams p;
      p.max_tokens = 48;
      p.ignore_eos = true;
      p.detokenize = false;
      SARATHI_RETURN_IF_ERROR(eng->add_request(std::vector<int32_t>(32, 5), p, nullptr));
    }
    while (eng->has_work()) {
      SARATHI_ASSIGN_OR_RETURN(const StepStats st, eng->step());
      if (round == 0 || st.num_seqs == 0) continue;  // round 0 warms up
      const double x = st.num_seqs, y = st.duration_s;
      sx += x, sy += y, sxx += x * x, sxy += x * y, n += 1;
    }
  }
  const double den = n * sxx - sx * sx;
  double per_seq = den > 0 ? (n * sxy - sx * sy) / den : 0.0;
  per_seq = std::max(0.0, per_seq);
  const double per_step = std::max(0.0, (sy - per_seq * sx) / std::max(1.0, n));
  return std::pair{per_step, per_seq};
}

}  // namespace

core::Result<std::string> measure_step_profile(Executor& executor, const model::LlamaConfig& c,
                                               const StepProfileOptions& o) {
  const int32_t max_pos = c.n_ctx - 1;
  Prober prober(executor, o.num_blocks, o.block_size);
  ordered_json spread = ordered_json::array();  // per point: its median and each run's ratio
  auto add_spread = [&](const std::vector<double>& runs, double med) {
    std::vector<double> ratios;
    for (double r : runs) ratios.push_back(r / med);
    spread.push_back({{"seconds", med}, {"ratios", ratios}});
  };
  auto report = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  // The median of a point's runs; every run's ratio to it joins the spread.
  auto point = [&](int32_t decodes, int32_t ctx, int32_t chunk,
                   int32_t chunk_pos) -> core::Result<double> {
    SARATHI_ASSIGN_OR_RETURN(const auto runs,
                             prober.time(decodes, ctx, chunk, chunk_pos, std::max(1, o.repeats)));
    const double med = median_of(runs);
    add_spread(runs, med);
    return med;
  };
  ordered_json prefill = ordered_json::array(), decode = ordered_json::array(),
               hybrid = ordered_json::array();
  // Warm-up: the largest chunk grows the executor's buffers once.
  int32_t largest = 0;
  for (int32_t t : o.chunk_tokens)
    if (t <= c.n_ctx) largest = std::max(largest, t);
  if (largest > 0) SARATHI_RETURN_IF_ERROR(prober.time(0, 0, largest, 0, 1));
  for (int32_t t : o.chunk_tokens) {
    if (t < 1 || t > c.n_ctx) continue;
    SARATHI_ASSIGN_OR_RETURN(const double s, point(0, 0, t, 0));
    prefill.push_back({{"tokens", t}, {"position", 0}, {"seconds", s}});
    report(fmt::format("prefill {:5} tokens at 0: {:9.3f} ms", t, s * 1e3));
  }
  for (int32_t p : o.chunk_positions) {
    if (p < 1 || p + o.position_chunk > c.n_ctx) continue;
    SARATHI_ASSIGN_OR_RETURN(const double s, point(0, 0, o.position_chunk, p));
    prefill.push_back({{"tokens", o.position_chunk}, {"position", p}, {"seconds", s}});
    report(fmt::format("prefill {:5} tokens at {}: {:9.3f} ms", o.position_chunk, p, s * 1e3));
  }
  for (int32_t b : o.decode_batches)
    for (int32_t l : o.decode_contexts) {
      if (b < 1 || l < 0 || l > max_pos) continue;
      SARATHI_ASSIGN_OR_RETURN(const double s, point(b, l, 0, 0));
      decode.push_back({{"batch", b}, {"context", l}, {"seconds", s}});
      report(fmt::format("decode  {:5} seqs at {}: {:9.3f} ms", b, l, s * 1e3));
    }
  for (const auto& [d, l, ch] : o.hybrid) {
    if (l > max_pos || ch > c.n_ctx || ch < 1 || d < 0) continue;
    SARATHI_ASSIGN_OR_RETURN(const double s, point(d, l, ch, 0));
    hybrid.push_back({{"decodes", d}, {"context", l}, {"chunk", ch}, {"seconds", s}});
    report(fmt::format("hybrid  {} decodes at {} + {} tokens: {:9.3f} ms", d, l, ch, s * 1e3));
  }
  // More runs of steps from short to long: the spread's tail (the rare slow step) needs more
  // samples than the grid's repeats give, at every step length (a stall of the host costs a
  // short step more, relatively, than a long one).
  for (const auto& [d, l, ch] : {std::array<int32_t, 3>{1, std::min(16, max_pos), 0},
                                 std::array<int32_t, 3>{16, std::min(128, max_pos), 0},
                                 std::array<int32_t, 3>{0, 0, std::min(64, c.n_ctx)}}) {
    SARATHI_ASSIGN_OR_RETURN(const auto runs, prober.time(d, l, ch, 0, std::max(2, o.spread_runs)));
    add_spread(runs, median_of(runs));
  }
  SARATHI_ASSIGN_OR_RETURN(const auto overhead, engine_overhead(c.n_vocab));
  report(fmt::format("engine CPU per step {:.3f} ms + {:.4f} ms per sequence", overhead.first * 1e3,
                     overhead.second * 1e3));
  const ordered_json out = {
      {"format", "sarathi-step-profile/1"},
      {"model",
       {{"name", c.name},
        {"n_layer", c.n_layer},
        {"n_embd", c.n_embd},
        {"n_head", c.n_head},
        {"n_head_kv", c.n_head_kv},
        {"head_dim", c.head_dim},
        {"n_vocab", c.n_vocab},
        {"n_ctx", c.n_ctx},
        {"kv_bytes_per_token", o.kv_bytes_per_token}}},
      {"threads", o.threads},
      {"isa", o.isa},
      {"kv_type", o.kv_type},
      {"num_kv_blocks", o.num_blocks},
      {"block_size", o.block_size},
      {"repeats", o.repeats},
      {"prefill", prefill},
      {"decode", decode},
      {"hybrid", hybrid},
      {"overhead", {{"per_step_s", overhead.first}, {"per_seq_s", overhead.second}}},
      {"spread", spread}};
  return out.dump(1) + "\n";
}

}  // namespace sarathi::engine
