#include "sched/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sched/policies/policies.h"

namespace sarathi::sched {
namespace {

struct Entry {
  std::string_view name;
  std::unique_ptr<Policy> (*make)(const SchedulerConfig&);
};

// The one table of policies. Explicit on purpose: self-registering statics get dropped from
// static libraries.
constexpr Entry kPolicies[] = {
    {"static", make_static},
    {"orca", make_orca},
    {"vllm", make_vllm},
    {"sarathi", make_sarathi},
    {"sarathi-serve", make_sarathi_serve},
};

}  // namespace

std::vector<std::string_view> policy_names() {
  std::vector<std::string_view> names;
  for (const Entry& e : kPolicies) names.push_back(e.name);
  return names;
}

core::Result<std::unique_ptr<Policy>> make_policy(const SchedulerConfig& config) {
  for (const Entry& e : kPolicies) {
    if (e.name != config.policy) continue;
    SARATHI_RETURN_IF_ERROR(validate(config));
    return e.make(config);
  }
  return core::make_error(core::ErrorCode::kNotFound, "unknown policy '{}'; known: {}",
                          config.policy, fmt::join(policy_names(), ", "));
}

}  // namespace sarathi::sched
