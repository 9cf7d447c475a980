// cli/commands.h: each subcommand registers its options on the app and returns the function
// that runs it once parsing succeeded.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace sarathi::cli {

using Runner = std::function<int()>;

Runner add_generate(CLI::App& app);
Runner add_export(CLI::App& app);
Runner add_serve(CLI::App& app);
/// `bench` and its subcommands.
Runner add_bench(CLI::App& app);
Runner add_bench_step_cost(CLI::App& bench);
Runner add_bench_roofline(CLI::App& bench);
Runner add_bench_ops(CLI::App& bench);
Runner add_bench_throughput(CLI::App& bench);
Runner add_bench_serve(CLI::App& bench);
Runner add_bench_capacity(CLI::App& bench);
Runner add_bench_grammar(CLI::App& bench);

}  // namespace sarathi::cli
