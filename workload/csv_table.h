// workload/csv_table.h: a small reader for comma-separated tables with a header row (Vidur's
// request traces and operator profiles): columns by name, numeric cells parsed on demand. No
// quoting (those files have none). Depends on core/ only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sarathi::workload {

/// A parsed table: the header's column names and the data rows' cells (as text).
class CsvTable {
 public:
  /// Parses `text`; `name` (a path) names the table in errors. Blank lines are skipped; a data
  /// row with another number of cells than the header is an error naming its line.
  static core::Result<CsvTable> parse(std::string_view text, const std::string& name);
  /// Reads and parses the file at `path`.
  static core::Result<CsvTable> read(const std::string& path);

  /// Index of the column named `column`, or -1.
  int column(std::string_view column) const;
  /// Number of data rows.
  size_t num_rows() const { return rows_.size(); }
  /// The cell at (row, col) as text.
  const std::string& cell(size_t row, int col) const {
    return rows_[row][static_cast<size_t>(col)];
  }
  /// The whole column `column` as numbers; an error names the first cell that is not one (or a
  /// missing column).
  core::Result<std::vector<double>> numbers(std::string_view column) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<int> line_of_row_;  // 1-based line numbers, for errors
};

}  // namespace sarathi::workload
