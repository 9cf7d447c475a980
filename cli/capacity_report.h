// cli/capacity_report.h: what `bench capacity` writes beside its table: the probes and
// capacities as JSON, and a self-contained plot of P99 TBT and median TTFT against the request
// rate (hand-written SVG, one curve per policy or server, the SLO line; the HTML variant embeds
// the SVG and the tables). Depends on workload/capacity_search.h and nlohmann/json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workload/capacity_search.h"

namespace sarathi::cli {

/// One policy's or server's search.
struct CapacityCurve {
  std::string label;
  workload::CapacityResult result;
  std::vector<std::string> notes;  // how it ran (chunking, calibration)
};

/// A whole `bench capacity` run.
struct CapacityRun {
  std::vector<CapacityCurve> curves;
  double tbt_slo_s = 0;
  double max_delay_s = 0;
  bool delay_is_ttft = false;         // TTFT stood in for the scheduling delay (a server)
  std::string slo_text;               // how the SLO was set
  std::vector<std::string> settings;  // what it was measured with, one line each
  nlohmann::ordered_json meta;        // settings for the JSON
};

/// The run as JSON: meta, the SLO, and per curve the capacity and every probe's figures.
nlohmann::ordered_json report_json(const CapacityRun& run);

/// The plot: P99 TBT (with the SLO line) and median TTFT against the rate; filled markers for
/// passing probes, hollow for failing ones, a dotted line at each capacity.
std::string render_svg(const CapacityRun& run, const std::string& title);

/// An HTML page: the SVG, the settings and one table of probes per curve.
std::string render_html(const CapacityRun& run, const std::string& svg, const std::string& title);

// Plot helpers shared with `simulate --report`.
/// s with &, <, > and " escaped for SVG/HTML text.
std::string xml_escape(const std::string& s);
/// Axis ticks 0 = t_0 < t_1 < ... covering max with about `target` steps of 1, 2 or 5 x 10^k.
std::vector<double> nice_ticks(double max, int target);
/// The i-th curve's color (a fixed palette, cycled).
const char* plot_color(size_t i);

}  // namespace sarathi::cli
