#include "dist/partition.h"

namespace sarathi::dist {

core::Result<std::vector<int32_t>> split_layers(int32_t num_layers, int32_t num_stages) {
  if (num_stages < 1)
    return core::make_error(core::ErrorCode::kInvalidArgument,
                            "--pipeline-parallel-size must be at least 1, got {}", num_stages);
  if (num_stages > num_layers)
    return core::make_error(core::ErrorCode::kInvalidArgument,
                            "--pipeline-parallel-size {} is more stages than the model's {} "
                            "layers (every stage needs at least one layer)",
                            num_stages, num_layers);
  std::vector<int32_t> bounds = {0};
  const int32_t base = num_layers / num_stages, extra = num_layers % num_stages;
  for (int32_t i = 0; i < num_stages; ++i) bounds.push_back(bounds.back() + base + (i < extra));
  return bounds;
}

}  // namespace sarathi::dist
