// cli/main.cpp: the `sarathi` binary and its subcommands.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/pipeline.h"

int main(int argc, char** argv) {
  CLI::App app{"sarathi: an LLM inference engine with SARATHI chunked-prefill scheduling"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sarathi 0.1.0");
  const sarathi::cli::Runner run_generate = sarathi::cli::add_generate(app);
  const sarathi::cli::Runner run_bench = sarathi::cli::add_bench(app);
  const sarathi::cli::Runner run_export = sarathi::cli::add_export(app);
  const sarathi::cli::Runner run_serve = sarathi::cli::add_serve(app);
  const sarathi::cli::Runner run_simulate = sarathi::cli::add_simulate(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.got_subcommand("generate")) return run_generate();
  if (app.got_subcommand("bench")) return run_bench();
  if (app.got_subcommand("export")) return sarathi::cli::run_alone("export", run_export);
  if (app.got_subcommand("serve")) return run_serve();
  if (app.got_subcommand("simulate")) return run_simulate();
  return 2;
}
