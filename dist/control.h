// dist/control.h: the control plane's messages (rank 0's commands to the other ranks and their
// replies) as JSON text. Encoding and parsing only, no MPI; a malformed message is an error.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "core/status.h"
#include "model/forward.h"
#include "model/llama.h"

namespace sarathi::dist {

enum class Command {
  kLoad,    // load your stage of a model
  kStart,   // create the KV cache and pool of a session and reply; then wait for go or cancel
  kGo,      // every stage started: open the data plane
  kCancel,  // some stage failed to start: drop the session
  kExit,    // exit with a code
};

struct LoadCommand {
  std::string spec;            // GGUF path or synthetic:<shape>[:<dtype>]
  model::LoadOptions options;  // n_ctx, seed, float_weights (progress is not sent)
  int32_t first_layer = 0;     // the stage: layers [first_layer, end_layer)
  int32_t end_layer = 0;
};

struct StartCommand {
  model::KvCacheOptions kv;  // pool, block size, type (the layers are the stage's own)
  int threads = 0;           // 0: this machine's cores shared among its ranks
};

struct ExitCommand {
  int code = 0;
};

/// A parsed command: `kind`, and the fields of its kind.
struct ParsedCommand {
  Command kind = Command::kExit;
  LoadCommand load;
  StartCommand start;
  ExitCommand exit;
};

std::string encode_command(const LoadCommand& c);
std::string encode_command(const StartCommand& c);
std::string encode_command(const ExitCommand& c);
/// kGo or kCancel.
std::string encode_command(Command c);
core::Result<ParsedCommand> parse_command(std::span<const std::byte> bytes);

/// A rank's answer to kLoad or kStart.
struct Reply {
  bool ok = false;
  std::string error;  // when !ok
};
std::string encode_reply(const core::Status& status);
/// A malformed reply reads as a failure saying so.
Reply parse_reply(std::span<const std::byte> bytes);

/// A string's bytes (valid while the string is).
inline std::span<const std::byte> to_bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace sarathi::dist
