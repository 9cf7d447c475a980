// dist/wire.h: the bytes a pipeline stage sends to the next. A micro-batch message carries the
// batch as rank 0 planned it (each sequence's token count, first position, logit count and
// block table, and the tokens), the times of the stages it went through, and the hidden states
// the previous stage produced; the last stage sends back a result message (the logits and every
// stage's times); an end message closes a session. Encoding and decoding only, no MPI: decoding
// checks every count and size, so a malformed message is an error, never a crash. Depends on
// model/forward.h (SeqInput) and engine/executor.h (StageTime).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "engine/executor.h"
#include "model/forward.h"

namespace sarathi::dist {

/// A message's bytes; vectors are recycled so a step allocates nothing once warm.
using Buffer = std::vector<std::byte>;

enum class MessageKind : int32_t {
  kBatch = 1,   // a micro-batch going forward: rank 0 -> 1 -> ... -> N-1
  kResult = 2,  // logits and stage times: rank N-1 -> rank 0
  kEnd = 3,     // the session ends (goes around the ring like a micro-batch)
};

/// What encode() writes and decode() reads back.
struct Message {
  MessageKind kind = MessageKind::kBatch;
  int64_t batch_idx = 0;                     // the micro-batch's number in its session
  std::span<const model::SeqInput> seqs;     // kBatch: the batch (spans into the message)
  std::span<const engine::StageTime> times;  // stages 1.. so far, in order (not rank 0)
  std::span<const float> data;               // kBatch: hidden states [T, n_embd]; kResult: logits
};

/// Writes m into out (resized; its capacity is reused).
void encode(const Message& m, Buffer& out);

/// Overwrites stage time number `index` of an encoded message (a stage records how long it
/// took to encode its own message after encoding it). index must be below m.times.size().
void patch_time(Buffer& encoded, size_t index, const engine::StageTime& time);

/// Reads a message. The spans point into `bytes` (seqs into `seqs`, times into `times`, both
/// reused), so they live as long as those do. Errors name what is inconsistent.
core::Result<Message> decode(std::span<const std::byte> bytes, std::vector<model::SeqInput>& seqs,
                             std::vector<engine::StageTime>& times);

}  // namespace sarathi::dist
