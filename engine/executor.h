// engine/executor.h: the only way the engine reaches a model. One call runs one step's mixed
// batch and returns the logits that were asked for. The real one wraps model::Forward; tests
// and the simulator plug in fakes. A pipelined executor (pipeline parallelism: stages on other
// processes) also accepts several steps in flight, collected in submission order. Depends on
// core/ only.
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"

namespace sarathi::engine {

/// One sequence's part of a step.
struct ExecSeq {
  std::span<const int32_t> tokens;       // tokens to process now (a prefill chunk or 1 decode)
  int32_t first_pos = 0;                 // position of tokens[0]
  std::span<const int32_t> block_table;  // KV block ids covering [0, first_pos + tokens.size())
  bool want_logits = false;              // logits for the last token of this entry
};

/// What one stage of the model did for one step (seconds on that stage's clock).
struct StageTime {
  double idle_s = 0;      // waiting before the step: from the end of its previous step
  double transfer_s = 0;  // packing and unpacking the step's messages (the wire overlaps)
  double compute_s = 0;   // the forward pass over its layers
};

/// A collected step: the logits (as Executor::run returns them) and, for a pipelined executor,
/// each stage's times for it, first stage first.
struct StepOutput {
  std::span<const float> logits;
  std::span<const StageTime> stages;
};

class Executor {
 public:
  virtual ~Executor() = default;
  /// Vocabulary size (length of each logit row).
  virtual int32_t n_vocab() const = 0;
  /// Runs one step. Returns one row of n_vocab logits per entry with want_logits, in order;
  /// valid until the next call. A pipelined executor needs no step in flight.
  virtual core::Result<std::span<const float>> run(std::span<const ExecSeq> batch) = 0;

  /// Steps that may be in flight at once: 1 for an executor that runs each step in run(); the
  /// number of pipeline stages for a pipelined one, which the engine then fills through
  /// submit() and collect().
  virtual int32_t max_in_flight() const { return 1; }
  /// Pipelined executors: starts a step and returns once it is handed on (the batch's spans
  /// need to live only during the call). At most max_in_flight() steps may await collect().
  virtual core::Status submit(std::span<const ExecSeq> batch);
  /// Pipelined executors: waits for the oldest submitted step and returns its output, valid
  /// until the next submit(), collect() or run().
  virtual core::Result<StepOutput> collect();
};

}  // namespace sarathi::engine
