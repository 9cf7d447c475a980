#include "cli/sim_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace sarathi::cli {
namespace {

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
  const char* color = "#000";
};

// A framed line chart with ticks and a legend, at (x0, y0) of size w x h inside a larger SVG.
std::string line_chart(double x0, double y0, double w, double h, const std::string& title,
                       const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, double x_max, double y_max) {
  const auto xt = nice_ticks(x_max > 0 ? x_max : 1, 6), yt = nice_ticks(y_max > 0 ? y_max : 1, 5);
  const double xs = w / xt.back(), ys = h / yt.back();
  auto X = [&](double v) { return x0 + std::min(v, xt.back()) * xs; };
  auto Y = [&](double v) { return y0 + h - std::min(v, yt.back()) * ys; };
  std::string s = fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n"
      "<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      x0, y0, w, h, x0 + w / 2, y0 - 8, xml_escape(title), x0 + w / 2, y0 + h + 34,
      xml_escape(x_label), x0 - 46, y0 + h / 2, xml_escape(y_label));
  for (double v : xt)
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#ddd\"/><text x=\"{0}\" "
        "y=\"{3}\" text-anchor=\"middle\" font-size=\"11\">{4:g}</text>\n",
        X(v), y0, y0 + h, y0 + h + 15, v);
  for (double v : yt)
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/><text x=\"{3}\" "
        "y=\"{4}\" text-anchor=\"end\" font-size=\"11\">{5:g}</text>\n",
        x0, Y(v), x0 + w, x0 - 5, Y(v) + 4, v);
  for (size_t i = 0; i < series.size(); ++i) {
    std::string pts;
    for (const auto& [x, y] : series[i].points) pts += fmt::format("{:.1f},{:.1f} ", X(x), Y(y));
    s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"/>\n",
                     pts, series[i].color);
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"/>"
        "<text x=\"{4}\" y=\"{5}\" font-size=\"12\">{6}</text>\n",
        x0 + w - 150, y0 + 14 + 16 * double(i), x0 + w - 130, series[i].color, x0 + w - 125,
        y0 + 18 + 16 * double(i), xml_escape(series[i].label));
  }
  return s;
}

std::string svg_open(double w, double h) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"13\"><rect width=\"100%\" height=\"100%\" "
      "fill=\"#fff\"/>\n",
      w, h);
}

// The empirical CDF of v (in ms), at most ~400 points.
std::vector<std::pair<double, double>> cdf_ms(std::vector<double> v) {
  std::vector<std::pair<double, double>> pts;
  if (v.empty()) return pts;
  std::sort(v.begin(), v.end());
  const size_t n = v.size(), step = std::max<size_t>(1, n / 400);
  for (size_t i = 0; i < n; i += step) pts.emplace_back(v[i] * 1e3, double(i + 1) / double(n));
  pts.emplace_back(v.back() * 1e3, 1.0);
  return pts;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const size_t k = static_cast<size_t>(q * double(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

std::string latency_cdfs(const SimReport& r) {
  std::vector<Series> ttft, tbt;
  double ttft_max = 0, tbt_max = 0;
  for (size_t i = 0; i < r.policies.size(); ++i) {
    const SimPolicyReport& p = r.policies[i];
    ttft.push_back({p.policy, cdf_ms(p.ttft_s), plot_color(i)});
    tbt.push_back({p.policy, cdf_ms(p.tbt_s), plot_color(i)});
    ttft_max = std::max(ttft_max, quantile(p.ttft_s, 0.999) * 1e3);
    tbt_max = std::max(tbt_max, quantile(p.tbt_s, 0.999) * 1e3);
  }
  return svg_open(980, 400) +
         line_chart(70, 40, 380, 300, "TTFT (CDF)", "ms (to the 99.9th percentile)", "fraction",
                    ttft, ttft_max, 1.0) +
         line_chart(570, 40, 380, 300, "time between tokens (CDF)", "ms (to the 99.9th percentile)",
                    "fraction", tbt, tbt_max, 1.0) +
         "</svg>\n";
}

// Prefill and decode tokens per step of replica 0 over time, averaged in 300 time bins.
std::string batch_composition(const SimPolicyReport& p) {
  if (p.steps.empty()) return "";
  double end = 0;
  for (const auto& st : p.steps) end = std::max(end, st.start_s);
  const size_t bins = 300;
  std::vector<double> pre(bins, 0), dec(bins, 0), n(bins, 0);
  for (const auto& st : p.steps) {
    const auto b = std::min(bins - 1, static_cast<size_t>(st.start_s / std::max(end, 1e-9) * bins));
    pre[b] += st.num_prefill_tokens;
    dec[b] += st.num_decode_tokens;
    n[b] += 1;
  }
  Series sp{"prefill tokens/step", {}, "#d62728"}, sd{"decode tokens/step", {}, "#1f77b4"};
  double y_max = 0;
  for (size_t b = 0; b < bins; ++b) {
    if (n[b] == 0) continue;
    const double t = (double(b) + 0.5) * end / bins;
    sp.points.emplace_back(t, pre[b] / n[b]);
    sd.points.emplace_back(t, dec[b] / n[b]);
    y_max = std::max({y_max, pre[b] / n[b], dec[b] / n[b]});
  }
  return svg_open(980, 300) +
         line_chart(
             70, 30, 860, 220,
             fmt::format("{}: batch composition of replica 0 ({} steps)", p.policy, p.steps.size()),
             "simulated time (s)", "tokens per step", {sp, sd}, end, y_max) +
         "</svg>\n";
}

// Grouped bars: one group per category, one bar per series; values in [0, y_max].
std::string bar_chart(const std::string& title, const std::string& y_label,
                      const std::vector<std::string>& categories,
                      const std::vector<std::pair<std::string, std::vector<double>>>& series,
                      double y_max, const char* fmt_value) {
  const double x0 = 70, y0 = 40, w = 860, h = 240;
  const auto yt = nice_ticks(y_max > 0 ? y_max : 1, 5);
  auto Y = [&](double v) { return y0 + h - v / yt.back() * h; };
  std::string s =
      svg_open(980, 340) + fmt::format(
                               "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                               "stroke=\"#444\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" "
                               "font-weight=\"bold\">{}</text><text transform=\"translate({},{}) "
                               "rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                               x0, y0, w, h, x0 + w / 2, y0 - 10, xml_escape(title), x0 - 46,
                               y0 + h / 2, xml_escape(y_label));
  for (double v : yt)
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/><text x=\"{3}\" "
        "y=\"{4}\" text-anchor=\"end\" font-size=\"11\">{5:g}</text>\n",
        x0, Y(v), x0 + w, x0 - 5, Y(v) + 4, v);
  const double group = w / std::max<size_t>(1, categories.size());
  const double bar = group * 0.8 / std::max<size_t>(1, series.size());
  for (size_t c = 0; c < categories.size(); ++c) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
                     x0 + group * (double(c) + 0.5), y0 + h + 16, xml_escape(categories[c]));
    for (size_t k = 0; k < series.size(); ++k) {
      const double v = c < series[k].second.size() ? series[k].second[c] : 0.0;
      const double x = x0 + group * double(c) + group * 0.1 + bar * double(k);
      s += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>"
          "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"10\">{}</text>\n",
          x, Y(v), bar * 0.95, y0 + h - Y(v), plot_color(k), x + bar / 2, Y(v) - 3,
          fmt::format(fmt::runtime(fmt_value), v));
    }
  }
  for (size_t k = 0; k < series.size(); ++k)
    s += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
        "font-size=\"12\">{}</text>\n",
        x0 + 150 * double(k), y0 + h + 32, plot_color(k), x0 + 150 * double(k) + 18, y0 + h + 41,
        xml_escape(series[k].first));
  return s + "</svg>\n";
}

std::string stage_bubbles(const SimReport& r) {
  size_t stages = 0;
  for (const auto& p : r.policies) stages = std::max(stages, p.stage_bubble.size());
  std::vector<std::string> cats;
  for (size_t s = 0; s < stages; ++s) cats.push_back(fmt::format("stage {}", s));
  std::vector<std::pair<std::string, std::vector<double>>> series;
  double y_max = 0;
  for (const auto& p : r.policies) {
    std::vector<double> pct;
    for (double b : p.stage_bubble) pct.push_back(100 * b);
    for (double v : pct) y_max = std::max(y_max, v);
    series.emplace_back(p.policy, pct);
  }
  return bar_chart("pipeline bubbles: idle time of each stage while requests are in (%)", "%", cats,
                   series, y_max * 1.15, "{:.1f}");
}

std::string capacity_bars(const CapacityRun& run) {
  std::vector<std::string> cats;
  std::vector<double> caps;
  double y_max = 0;
  for (const auto& c : run.curves) {
    cats.push_back(c.label);
    caps.push_back(c.result.capacity);
    y_max = std::max(y_max, c.result.capacity);
  }
  return bar_chart(fmt::format("capacity (req/s) at P99 TBT <= {:.3g} ms", run.tbt_slo_s * 1e3),
                   "req/s", cats, {{"capacity", caps}}, y_max * 1.15, "{:.3g}");
}

}  // namespace

std::string render_sim_report(const SimReport& r) {
  std::string s = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" +
                  xml_escape(r.title) +
                  "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
                  "collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
                  "text-align:right}th{background:#f4f4f4}</style></head><body>\n<h2>" +
                  xml_escape(r.title) + "</h2>\n";
  for (const std::string& l : r.settings) s += "<p>" + xml_escape(l) + "</p>\n";
  if (!r.policies.empty()) {
    s += "<table><tr><th></th>";
    for (const auto& p : r.policies) s += "<th>" + xml_escape(p.policy) + "</th>";
    s += "</tr>\n";
    for (size_t row = 0; row < r.policies[0].figures.size(); ++row) {
      s += "<tr><th>" + xml_escape(r.policies[0].figures[row].first) + "</th>";
      for (const auto& p : r.policies)
        s += "<td>" + (row < p.figures.size() ? xml_escape(p.figures[row].second) : "") + "</td>";
      s += "</tr>\n";
    }
    s += "</table>\n<h3>Latency</h3>\n" + latency_cdfs(r);
    s += "<h3>Batch composition over time</h3>\n";
    for (const auto& p : r.policies) s += batch_composition(p);
    s += "<h3>Pipeline stages</h3>\n" + stage_bubbles(r);
  }
  if (r.capacity != nullptr) {
    s += "<h3>Capacity</h3>\n" + capacity_bars(*r.capacity);
    s += render_svg(*r.capacity,
                    fmt::format("capacity search: TBT SLO {:.3g} ms", r.capacity->tbt_slo_s * 1e3));
  }
  return s + "</body></html>\n";
}

}  // namespace sarathi::cli
