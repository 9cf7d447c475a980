// `sarathi export`: write a model (e.g. a synthetic one) as a GGUF file.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/export.h"

namespace sarathi::cli {

Runner add_export(CLI::App& app) {
  struct Args {
    ModelArgs model;
    std::string output;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a model as GGUF, e.g. a synthetic one to run in llama.cpp on the same weights");
  add_model_options(*cmd, args->model);
  cmd->add_option("--seed", args->model.seed, "Seed of synthetic weights")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "Output GGUF path")->required();
  return [args] {
    const auto m = load_model(args->model);
    if (!m) return 1;
    auto st = model::export_gguf(*m, args->output);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
      return 1;
    }
    std::fprintf(stderr, "wrote %s (%s)\n", args->output.c_str(), m->config().summary().c_str());
    return 0;
  };
}

}  // namespace sarathi::cli
