// model/export.h: writes a loaded model (typically a synthetic one) as a GGUF file that
// sarathi and llama.cpp can load, e.g. to benchmark both on the same weights.
// Depends on model/llama.h and model/gguf.h.
#pragma once

#include <string>

#include "core/status.h"
#include "model/llama.h"

namespace sarathi::model {

/// Writes `model` to `path` as GGUF v3 (general.architecture, hyper-parameters, the tokenizer
/// vocabulary and every tensor in its own type).
core::Status export_gguf(const LlamaModel& model, const std::string& path);

}  // namespace sarathi::model
