#include "sim/gpu_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>

#include "workload/csv_table.h"

namespace sarathi::sim {

using core::ErrorCode;
using core::make_error;
using workload::CsvTable;

core::Result<GpuSpec> gpu_spec(const std::string& device) {
  // Dense fp16/bf16 tensor-core peaks and HBM bandwidths of the SXM parts (NVIDIA data sheets);
  // 80 GiB each (A100 80GB and H100 80GB report 81920 MiB).
  if (device == "a100") return GpuSpec{"A100-SXM4-80GB", 312e12, 2.039e12, 80.0 * (1 << 30)};
  if (device == "h100") return GpuSpec{"H100-SXM5-80GB", 989e12, 3.35e12, 80.0 * (1 << 30)};
  return make_error(ErrorCode::kInvalidArgument, "unknown GPU '{}': a100 or h100", device);
}

namespace {

namespace fs = std::filesystem;

// Layers and context of the profiled models (their Hugging Face configs: num_hidden_layers,
// max_position_embeddings); mlp.csv holds the widths but not these.
struct KnownModel {
  const char* folder;
  int32_t n_layer, n_ctx;
};
constexpr KnownModel kKnownModels[] = {
    {"Llama-2-7b-hf", 32, 4096},
    {"Llama-2-70b-hf", 80, 4096},
    {"Meta-Llama-3-8B", 32, 8192},
    {"Meta-Llama-3-70B", 80, 8192},
    {"CodeLlama-34b-Instruct-hf", 48, 16384},
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The model folder (org/name) under compute/<device>/ that `want` names exactly or, case-
// insensitively, as part of its name (one match only).
core::Result<std::string> find_model(const fs::path& compute, const std::string& want) {
  std::error_code ec;
  if (!fs::is_directory(compute, ec))
    return make_error(ErrorCode::kNotFound, "no profiles at {}", compute.string());
  if (fs::exists(compute / want / "mlp.csv", ec)) return want;
  std::vector<std::string> all, hits;
  for (const auto& org : fs::directory_iterator(compute, ec))
    for (const auto& m : fs::directory_iterator(org.path(), ec)) {
      const std::string name = org.path().filename().string() + "/" + m.path().filename().string();
      all.push_back(name);
      if (lower(m.path().filename().string()).find(lower(want)) != std::string::npos)
        hits.push_back(name);
    }
  std::sort(all.begin(), all.end());
  std::string list;
  for (const auto& a : all) list += (list.empty() ? "" : ", ") + a;
  if (hits.size() == 1) return hits[0];
  return make_error(ErrorCode::kNotFound, "model '{}' {} under {}; profiled: {}", want,
                    hits.empty() ? "not found" : "is ambiguous", compute.string(), list);
}

// Median milliseconds of one collective by message bytes, for the rows with num_workers and
// devices_per_node as given.
core::Result<Table1D> network_table(const fs::path& file, const char* collective,
                                    int32_t num_workers, int32_t devices_per_node) {
  SARATHI_ASSIGN_OR_RETURN(const CsvTable t, CsvTable::read(file.string()));
  SARATHI_ASSIGN_OR_RETURN(const auto workers, t.numbers("num_workers"));
  SARATHI_ASSIGN_OR_RETURN(const auto per_node, t.numbers("devices_per_node"));
  SARATHI_ASSIGN_OR_RETURN(const auto size, t.numbers("size"));
  SARATHI_ASSIGN_OR_RETURN(const auto ms,
                           t.numbers(fmt::format("time_stats.{}.median", collective)));
  std::vector<double> x, y;
  for (size_t i = 0; i < workers.size(); ++i)
    if (workers[i] == num_workers && per_node[i] == devices_per_node) {
      x.push_back(size[i]);
      y.push_back(ms[i] * 1e-3);
    }
  if (x.empty())
    return make_error(ErrorCode::kNotFound, "{}: no {} rows for {} workers, {} per node",
                      file.string(), collective, num_workers, devices_per_node);
  return Table1D::make(std::move(x), std::move(y));
}

}  // namespace

core::Result<std::unique_ptr<GpuModel>> GpuModel::load(const GpuModelOptions& o) {
  if (o.tensor_parallel < 1 || o.pipeline_parallel < 1)
    return make_error(ErrorCode::kInvalidArgument,
                      "tensor and pipeline parallel sizes must be >= 1");
  if (!(o.attn_prefill_efficiency > 0 && o.attn_prefill_efficiency <= 1) ||
      !(o.attn_decode_efficiency > 0 && o.attn_decode_efficiency <= 1) ||
      !(o.gpu_memory_utilization > 0 && o.gpu_memory_utilization <= 1))
    return make_error(ErrorCode::kInvalidArgument,
                      "efficiencies and utilization must be in (0, 1]");
  std::unique_ptr<GpuModel> m(new GpuModel());
  m->options_ = o;
  SARATHI_ASSIGN_OR_RETURN(m->spec_, gpu_spec(o.device));
  const fs::path root(o.profile_dir);
  SARATHI_ASSIGN_OR_RETURN(m->model_dir_,
                           find_model(root / "profiling/compute" / o.device, o.model));
  const std::string folder = fs::path(m->model_dir_).filename().string();
  const KnownModel* known = nullptr;
  for (const KnownModel& k : kKnownModels)
    if (folder == k.folder) known = &k;
  if (known == nullptr)
    return make_error(ErrorCode::kNotFound, "{}: layer count unknown (profiled models only)",
                      m->model_dir_);
  SARATHI_ASSIGN_OR_RETURN(
      const CsvTable t,
      CsvTable::read((root / "profiling/compute" / o.device / m->model_dir_ / "mlp.csv").string()));
  SARATHI_ASSIGN_OR_RETURN(const auto tp, t.numbers("num_tensor_parallel_workers"));
  SARATHI_ASSIGN_OR_RETURN(const auto tokens, t.numbers("num_tokens"));
  std::vector<double> layer_s(tokens.size(), 0.0);
  // Per layer: both norms, the fused QKV projection, RoPE, the output projection, the fused
  // gate/up projection, the activation, the down projection, and the two residual adds.
  const std::pair<const char*, double> ops[] = {{"input_layernorm", 1},
                                                {"attn_pre_proj", 1},
                                                {"attn_rope", 1},
                                                {"attn_post_proj", 1},
                                                {"post_attention_layernorm", 1},
                                                {"mlp_up_proj", 1},
                                                {"mlp_act", 1},
                                                {"mlp_down_proj", 1},
                                                {"add", 2}};
  for (const auto& [op, count] : ops) {
    SARATHI_ASSIGN_OR_RETURN(const auto ms, t.numbers(fmt::format("time_stats.{}.median", op)));
    for (size_t i = 0; i < ms.size(); ++i) layer_s[i] += count * ms[i] * 1e-3;
  }
  SARATHI_ASSIGN_OR_RETURN(const auto emb_ms, t.numbers("time_stats.emb.median"));
  std::vector<double> x, y, ye;
  for (size_t i = 0; i < tp.size(); ++i)
    if (tp[i] == o.tensor_parallel) {
      x.push_back(tokens[i]);
      y.push_back(layer_s[i]);
      ye.push_back(emb_ms[i] * 1e-3);
    }
  if (x.empty())
    return make_error(ErrorCode::kNotFound, "{} on {} was not profiled at tensor parallel size {}",
                      m->model_dir_, o.device, o.tensor_parallel);
  SARATHI_ASSIGN_OR_RETURN(m->layer_, Table1D::make(x, y));
  SARATHI_ASSIGN_OR_RETURN(m->embed_, Table1D::make(x, ye));
  SARATHI_ASSIGN_OR_RETURN(const auto n_head, t.numbers("n_head"));
  SARATHI_ASSIGN_OR_RETURN(const auto n_kv_head, t.numbers("n_kv_head"));
  SARATHI_ASSIGN_OR_RETURN(const auto n_embd, t.numbers("n_embd"));
  SARATHI_ASSIGN_OR_RETURN(const auto n_ff, t.numbers("n_expanded_embd"));
  SARATHI_ASSIGN_OR_RETURN(const auto vocab, t.numbers("vocab_size"));
  ModelShape& s = m->shape_;
  s.name = m->model_dir_;
  s.n_layer = known->n_layer;
  s.n_ctx = known->n_ctx;
  s.n_head = static_cast<int32_t>(n_head[0]);
  s.n_head_kv = static_cast<int32_t>(n_kv_head[0]);
  s.n_embd = static_cast<int32_t>(n_embd[0]);
  s.n_vocab = static_cast<int32_t>(vocab[0]);
  s.head_dim = s.n_embd / std::max(1, s.n_head);
  s.kv_bytes_per_token = int64_t{2} * 2 * s.n_layer * s.n_head_kv * s.head_dim;  // K and V, fp16
  m->n_ff_ = static_cast<int32_t>(n_ff[0]);
  m->gated_ = t.column("use_gated_mlp") < 0 || t.cell(0, t.column("use_gated_mlp")) != "False";
  if (s.n_head % o.tensor_parallel != 0 || s.n_head_kv % o.tensor_parallel != 0)
    return make_error(ErrorCode::kInvalidArgument, "{} heads ({} KV) do not split {} ways",
                      s.n_head, s.n_head_kv, o.tensor_parallel);
  if (s.n_layer % o.pipeline_parallel != 0)
    return make_error(ErrorCode::kInvalidArgument, "{} layers do not split into {} stages",
                      s.n_layer, o.pipeline_parallel);

  const std::string net = o.network.empty() ? o.device + "_dgx" : o.network;
  const fs::path net_dir = root / "profiling/network" / net;
  if (o.tensor_parallel > 1) {
    SARATHI_ASSIGN_OR_RETURN(m->all_reduce_, network_table(net_dir / "all_reduce.csv", "all_reduce",
                                                           o.tensor_parallel, o.tensor_parallel));
  }
  if (o.pipeline_parallel > 1) {
    // Stages on one node (2 devices per node in the table) when the replica fits a node of 8.
    const int32_t per_node = o.tensor_parallel * o.pipeline_parallel <= 8 ? 2 : 1;
    SARATHI_ASSIGN_OR_RETURN(m->send_recv_,
                             network_table(net_dir / "send_recv.csv", "send_recv", 2, per_node));
  }

  // Weights per GPU (fp16): the stage's layers and an even share of embedding + LM head, split
  // tensor-parallel ways.
  const double d = s.n_embd, kv_dim = double(s.n_head_kv) * s.head_dim;
  const double per_layer = d * d * 2 + 2 * d * kv_dim + (m->gated_ ? 3.0 : 2.0) * d * m->n_ff_;
  const double layers_per_stage = double(s.n_layer) / o.pipeline_parallel;
  m->weight_bytes_gpu_ =
      2.0 * (layers_per_stage * per_layer + 2.0 * s.n_vocab * d / o.pipeline_parallel) /
      o.tensor_parallel;
  const double free_bytes = m->spec_.mem_bytes * o.gpu_memory_utilization - m->weight_bytes_gpu_;
  const double kv_token_gpu = 2.0 * 2.0 * layers_per_stage * kv_dim / o.tensor_parallel;
  m->kv_tokens_ = free_bytes > 0 ? static_cast<int64_t>(free_bytes / kv_token_gpu) : 0;
  if (m->kv_tokens_ < 1)
    return make_error(ErrorCode::kResourceExhausted,
                      "{} does not fit {} x {} {} GPUs: {:.1f} GB of weights per GPU",
                      m->model_dir_, o.tensor_parallel, o.pipeline_parallel, m->spec_.name,
                      m->weight_bytes_gpu_ / 1e9);
  return m;
}

double GpuModel::attention_s(const StepWork& w) const {
  const double tp = options_.tensor_parallel;
  const double q_heads = shape_.n_head / tp, kv_heads = shape_.n_head_kv / tp;
  const double hd = shape_.head_dim;
  const double kv_token_bytes = 2.0 * 2.0 * kv_heads * hd;  // K and V of one layer, fp16
  const double flops_s = spec_.peak_flops * options_.attn_prefill_efficiency;
  const double bytes_s = spec_.mem_bandwidth * options_.attn_decode_efficiency;
  double t = double(w.num_tokens) * kv_token_bytes / bytes_s;  // writing the new K and V
  if (w.num_prefill_chunks > 0) {
    const double flops = 4.0 * q_heads * hd * double(w.prefill_pairs);
    const double bytes = kv_token_bytes * double(w.prefill_context);
    t += options_.attn_launch_s + std::max(flops / flops_s, bytes / bytes_s);
  }
  if (w.num_decodes > 0) {
    const double bytes = kv_token_bytes * double(w.decode_context);
    const double flops = 4.0 * q_heads * hd * double(w.decode_context);
    t += options_.attn_launch_s + std::max(bytes / bytes_s, flops / flops_s);
  }
  return t;
}

StepTime GpuModel::predict(const StepWork& w) const {
  const double tp = options_.tensor_parallel;
  const int32_t stages = options_.pipeline_parallel;
  const double layers = double(shape_.n_layer) / stages;
  const double act_bytes = 2.0 * shape_.n_embd * w.num_tokens;  // fp16 activations
  double layer = layer_(w.num_tokens) + attention_s(w);
  if (tp > 1) layer += 2.0 * all_reduce_(act_bytes);
  // LM head over the rows that produce a token: its weights read once, 2 FLOPs per weight/row.
  const double head_bytes = 2.0 * shape_.n_vocab * shape_.n_embd / tp;
  const double head_s =
      w.num_logits > 0
          ? std::max(
                head_bytes / (spec_.mem_bandwidth * options_.attn_decode_efficiency),
                head_bytes * w.num_logits / (spec_.peak_flops * options_.attn_prefill_efficiency))
          : 0.0;
  StepTime t;
  t.stage_s = layers * layer + (embed_(w.num_tokens) + head_s) / stages;
  t.handoff_s = stages > 1 ? send_recv_(act_bytes) : 0.0;
  t.overhead_s = options_.cpu_overhead_step_s +
                 options_.cpu_overhead_seq_s * (w.num_decodes + w.num_prefill_chunks);
  return t;
}

std::string GpuModel::describe() const {
  const auto& o = options_;
  return fmt::format(
      "Vidur profiles: {} on {} ({}), TP {} PP {}; attention by roofline at {:.0f}% of {:.0f} "
      "TFLOP/s (prefill) and {:.0f}% of {:.0f} GB/s (decode) + {:.0f} us per kernel; {}{}"
      "weights {:.1f} GB per GPU, KV for {} tokens per replica ({:.0f}% of {:.0f} GiB)",
      model_dir_, o.device, spec_.name, o.tensor_parallel, o.pipeline_parallel,
      o.attn_prefill_efficiency * 100, spec_.peak_flops / 1e12, o.attn_decode_efficiency * 100,
      spec_.mem_bandwidth / 1e9, o.attn_launch_s * 1e6,
      o.tensor_parallel > 1 ? "2 all-reduces per layer, " : "",
      o.pipeline_parallel > 1 ? "send/recv between stages, " : "", weight_bytes_gpu_ / 1e9,
      kv_tokens_, o.gpu_memory_utilization * 100, spec_.mem_bytes / (1 << 30));
}

}  // namespace sarathi::sim
