// `sarathi bench <kind>`: benchmark subcommands.
#include <vector>

#include "cli/commands.h"

namespace sarathi::cli {

Runner add_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  struct Sub {
    CLI::App* app;
    Runner run;
  };
  auto subs = std::make_shared<std::vector<Sub>>();
  auto add = [&](Runner r) { subs->push_back({bench->get_subcommands().back(), std::move(r)}); };
  add(add_bench_step_cost(*bench));
  return [subs]() {
    for (const Sub& s : *subs)
      if (s.app->parsed()) return s.run();
    return 2;
  };
}

}  // namespace sarathi::cli
