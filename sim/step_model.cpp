#include "sim/step_model.h"

namespace sarathi::sim {

void StepWork::add(int32_t first_pos, int32_t n, bool decode, bool logits) {
  num_tokens += n;
  if (decode) {
    ++num_decodes;
    decode_context += int64_t{first_pos} + 1;
  } else {
    ++num_prefill_chunks;
    num_prefill_tokens += n;
    prefill_pairs += int64_t{n} * first_pos + int64_t{n} * (n + 1) / 2;
    prefill_context += int64_t{first_pos} + n;
  }
  num_logits += logits ? 1 : 0;
}

}  // namespace sarathi::sim
