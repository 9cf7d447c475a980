#include "cli/capacity_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace sarathi::cli {
namespace {

nlohmann::ordered_json probe_json(const workload::ProbeOutcome& p) {
  const auto& m = p.metrics;
  return {{"rate", p.rate},
          {"pass", p.pass},
          {"why", p.why},
          {"num_requests", m.num_requests},
          {"num_failed", m.num_failed},
          {"duration_s", m.duration_s},
          {"p50_tbt_ms", m.p50_tbt_s * 1e3},
          {"p99_tbt_ms", m.p99_tbt_s * 1e3},
          {"max_tbt_ms", m.max_tbt_s * 1e3},
          {"median_delay_s", m.median_delay_s},
          {"delay_is_ttft", m.delay_is_ttft},
          {"p50_ttft_s", m.p50_ttft_s},
          {"p99_ttft_s", m.p99_ttft_s},
          {"output_tokens_per_s", m.output_tokens_per_s},
          {"total_tokens_per_s", m.total_tokens_per_s},
          {"fluidity_index", m.fluidity_index},
          {"deadlines", m.deadlines.num_deadlines},
          {"missed_deadlines", m.deadlines.num_missed}};
}

}  // namespace

nlohmann::ordered_json report_json(const CapacityRun& run) {
  nlohmann::ordered_json j = run.meta;
  j["tbt_slo_ms"] = run.tbt_slo_s * 1e3;
  j["tbt_slo"] = run.slo_text;
  j["max_delay_s"] = run.max_delay_s;
  j["delay_is_ttft"] = run.delay_is_ttft;
  j["curves"] = nlohmann::ordered_json::array();
  for (const CapacityCurve& c : run.curves) {
    nlohmann::ordered_json cj = {{"label", c.label},
                                 {"capacity_req_s", c.result.capacity},
                                 {"lowest_failing_rate", c.result.lowest_failing_rate},
                                 {"stop_reason", c.result.stop_reason},
                                 {"error", c.result.error},
                                 {"notes", c.notes},
                                 {"probes", nlohmann::ordered_json::array()}};
    for (const auto& p : c.result.probes) cj["probes"].push_back(probe_json(p));
    j["curves"].push_back(std::move(cj));
  }
  return j;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

const char* plot_color(size_t i) {
  constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                     "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  return kColors[i % std::size(kColors)];
}

std::vector<double> nice_ticks(double max, int target) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  const double raw = max / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  std::vector<double> t;
  for (int i = 0; i == 0 || t.back() < max * (1 - 1e-9); ++i) t.push_back(i * step);
  return t;
}


namespace {

struct Panel {
  double x = 0, y = 0, w = 0, h = 0;
  std::string title, y_label;
  double (*value)(const workload::ServingMetrics&);  // y of a probe
  double line = 0;                                   // a horizontal line (0: none)
  std::string line_label;
};

std::string svg_panel(const Panel& p, const std::vector<CapacityCurve>& curves) {
  double x_max = 0, y_max = p.line;
  for (const CapacityCurve& c : curves)
    for (const auto& pr : c.result.probes) {
      x_max = std::max(x_max, pr.rate);
      y_max = std::max(y_max, p.value(pr.metrics));
    }
  const auto xt = nice_ticks(x_max * 1.05, 6), yt = nice_ticks(y_max * 1.05, 5);
  const double xs = p.w / xt.back(), ys = p.h / yt.back();
  auto X = [&](double v) { return p.x + v * xs; };
  auto Y = [&](double v) { return p.y + p.h - v * ys; };
  std::string s = fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">request rate (req/s)</text>\n"
      "<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      p.x, p.y, p.w, p.h, p.x + p.w / 2, p.y - 10, xml_escape(p.title), p.x + p.w / 2,
      p.y + p.h + 36, p.x - 48, p.y + p.h / 2, xml_escape(p.y_label));
  for (double v : xt)
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#ddd\"/>"
        "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\" font-size=\"11\">{4:g}</text>\n",
        X(v), p.y, p.y + p.h, p.y + p.h + 16, v);
  for (double v : yt)
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\" font-size=\"11\">{5:g}</text>\n",
        p.x, Y(v), p.x + p.w, p.x - 6, Y(v) + 4, v);
  if (p.line > 0)
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#000\" "
        "stroke-dasharray=\"6,4\"/><text x=\"{3}\" y=\"{4}\" text-anchor=\"end\" "
        "font-size=\"11\">{5}</text>\n",
        p.x, Y(p.line), p.x + p.w, p.x + p.w - 4, Y(p.line) - 4, xml_escape(p.line_label));
  for (size_t i = 0; i < curves.size(); ++i) {
    const char* color = plot_color(i);
    auto probes = curves[i].result.probes;
    std::sort(probes.begin(), probes.end(),
              [](const auto& l, const auto& r) { return l.rate < r.rate; });
    std::string pts;
    for (const auto& pr : probes) pts += fmt::format("{},{} ", X(pr.rate), Y(p.value(pr.metrics)));
    s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                     pts, color);
    for (const auto& pr : probes)  // filled: passed; hollow: failed
      s += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" stroke=\"{}\" fill=\"{}\"/>\n",
                       X(pr.rate), Y(p.value(pr.metrics)), color, pr.pass ? color : "#fff");
    if (curves[i].result.capacity > 0)
      s += fmt::format(
          "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\" "
          "stroke-dasharray=\"2,3\"/>\n",
          X(curves[i].result.capacity), p.y, p.y + p.h, color);
  }
  return s;
}

}  // namespace

std::string render_svg(const CapacityRun& run, const std::string& title) {
  const double w = 980, h = 470;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"13\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
      "<text x=\"{2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{3}</text>\n",
      w, h, w / 2, xml_escape(title));
  Panel tbt{.x = 70,
            .y = 60,
            .w = 380,
            .h = 300,
            .title = "P99 TBT",
            .y_label = "ms",
            .value = [](const workload::ServingMetrics& m) { return m.p99_tbt_s * 1e3; },
            .line = run.tbt_slo_s * 1e3,
            .line_label = fmt::format("TBT SLO {:.3g} ms", run.tbt_slo_s * 1e3)};
  Panel ttft{.x = 570,
             .y = 60,
             .w = 380,
             .h = 300,
             .title = "median TTFT",
             .y_label = "s",
             .value = [](const workload::ServingMetrics& m) { return m.p50_ttft_s; }};
  s += svg_panel(tbt, run.curves) + svg_panel(ttft, run.curves);
  double lx = 70;
  for (size_t i = 0; i < run.curves.size(); ++i) {  // legend
    const CapacityCurve& c = run.curves[i];
    const std::string text = fmt::format("{}: capacity {:.3g} req/s", c.label, c.result.capacity);
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"/>"
        "<text x=\"{4}\" y=\"{5}\">{6}</text>\n",
        lx, 425, lx + 24, plot_color(i), lx + 30, 429, xml_escape(text));
    lx += 40 + 7.5 * static_cast<double>(text.size());
  }
  s += fmt::format(
      "<text x=\"70\" y=\"455\" font-size=\"11\" fill=\"#555\">filled: probe passed (P99 TBT "
      "within the SLO, median {} within {:g} s); hollow: failed; dotted: capacity</text>\n"
      "</svg>\n",
      run.delay_is_ttft ? "TTFT" : "scheduling delay", run.max_delay_s);
  return s;
}

std::string render_html(const CapacityRun& run, const std::string& svg, const std::string& title) {
  std::string s = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" +
                  xml_escape(title) +
                  "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
                  "collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
                  "text-align:right}.fail{color:#b00}</style></head><body>\n<h2>" +
                  xml_escape(title) + "</h2>\n" + svg + "\n";
  for (const std::string& l : run.settings) s += "<p>" + xml_escape(l) + "</p>\n";
  for (const CapacityCurve& c : run.curves) {
    s += fmt::format("<h3>{} — capacity {:.3g} req/s</h3>\n", xml_escape(c.label),
                     c.result.capacity);
    for (const std::string& n : c.notes) s += "<p>" + xml_escape(n) + "</p>\n";
    s += "<table><tr><th>rate/s</th><th>P99 TBT ms</th><th>max TBT ms</th><th>median delay s"
         "</th><th>TTFT p50 s</th><th>TTFT p99 s</th><th>tok/s</th><th>fluidity</th>"
         "<th>result</th></tr>\n";
    for (const auto& p : c.result.probes) {
      const auto& m = p.metrics;
      s += fmt::format(
          "<tr><td>{:.3f}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.3f}</td><td>{:.3f}</td>"
          "<td>{:.3f}</td><td>{:.1f}</td><td>{:.4f}</td><td{}>{}</td></tr>\n",
          p.rate, m.p99_tbt_s * 1e3, m.max_tbt_s * 1e3, m.median_delay_s, m.p50_ttft_s,
          m.p99_ttft_s, m.total_tokens_per_s, m.fluidity_index, p.pass ? "" : " class=\"fail\"",
          p.pass ? "pass" : xml_escape("FAIL: " + p.why));
    }
    s += "</table>\n<p>" + xml_escape(c.result.stop_reason) + "</p>\n";
  }
  return s + "</body></html>\n";
}

}  // namespace sarathi::cli
