// engine/executor.h: the only way the engine reaches a model. One call runs one step's mixed
// batch and returns the logits that were asked for. The real one wraps model::Forward; tests
// and the simulator plug in fakes. Depends on core/ only.
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

class Executor {
 public:
  virtual ~Executor() = default;
  /// Vocabulary size (length of each logit row).
  virtual int32_t n_vocab() const = 0;
  /// Runs one step. Returns one row of n_vocab logits per entry with want_logits, in order;
  /// valid until the next call.
  virtual core::Result<std::span<const float>> run(std::span<const ExecSeq> batch) = 0;
};

}  // namespace sarathi::engine
