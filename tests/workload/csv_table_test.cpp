// The CSV reader for Vidur's traces and profiles: columns by name, numbers on demand, errors
// that name the file, line and column.
#include "workload/csv_table.h"

#include <gtest/gtest.h>

namespace sarathi::workload {
namespace {

TEST(CsvTable, ColumnsByNameAndNumbers) {
  auto t = CsvTable::parse(",a,b\r\n0, 1.5 ,x\n\n1,2e-3,y\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->num_rows(), 2u);
  EXPECT_EQ(t->column("a"), 1);
  EXPECT_EQ(t->column(""), 0);  // an unnamed index column
  EXPECT_EQ(t->column("zz"), -1);
  EXPECT_EQ(t->cell(1, t->column("b")), "y");
  auto a = t->numbers("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<double>{1.5, 2e-3}));
  auto b = t->numbers("b");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("t.csv:2"), std::string::npos) << b.error().message;
  EXPECT_FALSE(t->numbers("missing").ok());
}

TEST(CsvTable, RejectsRaggedRowsAndEmptyFiles) {
  auto r = CsvTable::parse("a,b\n1,2\n3\n", "r.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("r.csv:3"), std::string::npos);
  EXPECT_FALSE(CsvTable::parse("\n\n", "e.csv").ok());
  EXPECT_FALSE(CsvTable::read("/nonexistent/x.csv").ok());
}

}  // namespace
}  // namespace sarathi::workload
