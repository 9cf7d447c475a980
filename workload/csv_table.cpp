#include "workload/csv_table.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace sarathi::workload {

using core::ErrorCode;
using core::make_error;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> out;
  for (;;) {
    const size_t comma = line.find(',');
    out.emplace_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    line.remove_prefix(comma + 1);
  }
}

}  // namespace

core::Result<CsvTable> CsvTable::parse(std::string_view text, const std::string& name) {
  CsvTable t;
  t.name_ = name;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty()) {
      if (end == text.size()) break;
      continue;
    }
    auto cells = split(line);
    if (t.header_.empty()) {
      t.header_ = std::move(cells);
    } else if (cells.size() != t.header_.size()) {
      return make_error(ErrorCode::kInvalidFormat, "{}:{}: {} cells, the header has {}", name,
                        line_no, cells.size(), t.header_.size());
    } else {
      t.rows_.push_back(std::move(cells));
      t.line_of_row_.push_back(line_no);
    }
    if (end == text.size()) break;
  }
  if (t.header_.empty()) return make_error(ErrorCode::kInvalidFormat, "{}: empty table", name);
  return t;
}

core::Result<CsvTable> CsvTable::read(const std::string& path) {
  std::ifstream f(path);
  if (!f) return make_error(ErrorCode::kNotFound, "cannot open {}", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path);
}

int CsvTable::column(std::string_view column) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == column) return static_cast<int>(i);
  return -1;
}

core::Result<std::vector<double>> CsvTable::numbers(std::string_view column_name) const {
  const int c = column(column_name);
  if (c < 0) return make_error(ErrorCode::kInvalidFormat, "{}: no column '{}'", name_, column_name);
  std::vector<double> out;
  out.reserve(rows_.size());
  for (size_t r = 0; r < rows_.size(); ++r) {
    const std::string& s = rows_[r][static_cast<size_t>(c)];
    double v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec != std::errc() || res.ptr != s.data() + s.size())
      return make_error(ErrorCode::kInvalidFormat, "{}:{}: column '{}': '{}' is not a number",
                        name_, line_of_row_[r], column_name, s);
    out.push_back(v);
  }
  return out;
}

}  // namespace sarathi::workload
