// sim/gpu_model.h: the step-time model of a GPU replica, from Vidur's published operator
// profiles (../shared/profiles/vidur, see its README): per-layer times of the non-attention
// operators measured at each token count and tensor-parallel degree (mlp.csv), plus
//  - attention, which was not published, from a roofline: prefill FLOPs (4 * heads * head_dim
//    per query-key pair) at the device's fp16 tensor peak times an efficiency, decode KV bytes
//    read at its memory bandwidth times an efficiency, plus a launch floor per kernel;
//  - tensor parallelism: two all-reduces of the step's activations per layer (all_reduce.csv);
//  - pipeline parallelism: layers split evenly over stages, one send/recv of the activations
//    between stages (send_recv.csv);
//  - the LM head (not profiled) from its bytes and FLOPs like attention; the embedding from the
//    profile. Both are spread evenly over the stages.
// KV capacity comes from device memory times a utilization fraction minus the weights. Depends on
// sim/ and workload/csv_table.h only.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "sim/interp.h"
#include "sim/step_model.h"

namespace sarathi::sim {

/// A device's ceilings (dense fp16 tensor FLOP/s, HBM bytes/s, memory bytes).
struct GpuSpec {
  std::string name;
  double peak_flops = 0;
  double mem_bandwidth = 0;
  double mem_bytes = 0;
};

/// The specs of "a100" (A100-SXM 80GB) and "h100" (H100-SXM 80GB); an error for others.
core::Result<GpuSpec> gpu_spec(const std::string& device);

struct GpuModelOptions {
  std::string profile_dir = "../shared/profiles/vidur";
  std::string device = "a100";  // a100 | h100: compute/<device>/
  // The model folder under compute/<device>/ ("meta-llama/Llama-2-7b-hf"), or a part of its
  // name that matches exactly one ("llama-2-7b", case-insensitive).
  std::string model;
  std::string network;  // network/<network>/; "" = "<device>_dgx"
  int32_t tensor_parallel = 1;
  int32_t pipeline_parallel = 1;
  double attn_prefill_efficiency = 0.5;  // of the fp16 tensor peak (FlashAttention-2 forward
                                         // reaches 50-70% on A100 at long sequences)
  double attn_decode_efficiency = 0.6;   // of the memory bandwidth for paged decode attention
  double attn_launch_s = 10e-6;          // per attention kernel and layer
  double cpu_overhead_step_s = 0;        // the serving system's CPU time per step (not profiled)
  double cpu_overhead_seq_s = 0;         // and per scheduled sequence
  double gpu_memory_utilization = 0.9;   // fraction of device memory for weights + KV (vLLM's)
};

class GpuModel final : public StepModel {
 public:
  /// Loads the profiles; errors name a missing file, model, TP degree or network table.
  static core::Result<std::unique_ptr<GpuModel>> load(const GpuModelOptions& options);

  StepTime predict(const StepWork& work) const override;
  int32_t num_stages() const override { return options_.pipeline_parallel; }
  std::string describe() const override;

  const ModelShape& shape() const { return shape_; }
  /// KV tokens one replica holds: per GPU, memory * utilization - weights, over the bytes a token
  /// takes on one GPU (its stage's layers, its tensor-parallel share of KV heads).
  int64_t kv_capacity_tokens() const { return kv_tokens_; }
  double weight_bytes_per_gpu() const { return weight_bytes_gpu_; }

 private:
  GpuModel() = default;
  double attention_s(const StepWork& w) const;  // one layer
  GpuModelOptions options_;
  GpuSpec spec_;
  ModelShape shape_;
  std::string model_dir_;
  int32_t n_ff_ = 0;
  bool gated_ = true;
  Table1D layer_;       // seconds per layer (non-attention operators) by tokens
  Table1D embed_;       // seconds per step by tokens
  Table1D all_reduce_;  // seconds by bytes (empty without TP)
  Table1D send_recv_;   // seconds by bytes (empty without PP)
  int64_t kv_tokens_ = 0;
  double weight_bytes_gpu_ = 0;
};

}  // namespace sarathi::sim
