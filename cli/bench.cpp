// `sarathi bench <kind>`: benchmark subcommands.
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/pipeline.h"

namespace sarathi::cli {

Runner add_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  struct Sub {
    std::string name;
    Runner run;
  };
  auto subs = std::make_shared<std::vector<Sub>>();
  subs->push_back({"step-cost", add_bench_step_cost(*bench)});
  subs->push_back({"roofline", add_bench_roofline(*bench)});
  subs->push_back({"ops", add_bench_ops(*bench)});
  subs->push_back({"throughput", add_bench_throughput(*bench)});
  subs->push_back({"serve", add_bench_serve(*bench)});
  subs->push_back({"capacity", add_bench_capacity(*bench)});
  subs->push_back({"profile", add_bench_profile(*bench)});
  subs->push_back({"grammar", add_bench_grammar(*bench)});
  return [subs, bench]() {
    for (const Sub& s : *subs) {
      if (!bench->got_subcommand(s.name)) continue;
      // bench throughput runs under mpirun itself (--pipeline-parallel-size); the others alone.
      return s.name == "throughput" ? s.run() : run_alone("bench " + s.name, s.run);
    }
    return 2;
  };
}

}  // namespace sarathi::cli
