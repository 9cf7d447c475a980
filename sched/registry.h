// sched/registry.h: policy lookup by name (--policy). An explicit table in registry.cpp: adding a
// policy is one file in policies/ plus one line there. Must not depend on model/ or kernels/.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sched/config.h"
#include "sched/policy.h"

namespace sarathi::sched {

/// Names of the registered policies, in table order.
std::vector<std::string_view> policy_names();

/// Validates config and creates the policy it names. An unknown name is a kNotFound error that
/// lists the known ones; an invalid config is a kInvalidArgument error.
core::Result<std::unique_ptr<Policy>> make_policy(const SchedulerConfig& config);

}  // namespace sarathi::sched
