// dist/partition.h: which layers each pipeline stage holds. Pure arithmetic; no MPI.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace sarathi::dist {

/// Contiguous layer ranges for num_stages stages over num_layers layers: stage i holds
/// [bounds[i], bounds[i + 1]) (num_stages + 1 bounds). As even as possible; when the layers do
/// not divide evenly the earlier stages take one more (the last stage also runs the output
/// head, the first only the embedding lookup). An error, naming --pipeline-parallel-size, when
/// num_stages < 1 or exceeds num_layers (every stage needs a layer).
core::Result<std::vector<int32_t>> split_layers(int32_t num_layers, int32_t num_stages);

}  // namespace sarathi::dist
