#include "engine/executor.h"

namespace sarathi::engine {

core::Status Executor::submit(std::span<const ExecSeq>) {
  return core::make_error(core::ErrorCode::kUnsupported,
                          "this executor runs one step at a time (run), not pipelined steps");
}

core::Result<StepOutput> Executor::collect() {
  return core::make_error(core::ErrorCode::kUnsupported,
                          "this executor runs one step at a time (run), not pipelined steps");
}

}  // namespace sarathi::engine
