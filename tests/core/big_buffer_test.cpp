#include "core/big_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

namespace sarathi::core {
namespace {

TEST(BigBuffer, ZeroedAlignedAndMovable) {
  BigBuffer empty;
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);

  BigBuffer b(5 << 20);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), size_t{5} << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
  for (size_t i = 0; i < b.size(); i += 4093) ASSERT_EQ(b.data()[i], 0) << i;
  b.data()[123] = 7;

  BigBuffer moved(std::move(b));
  EXPECT_EQ(b.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  ASSERT_NE(moved.data(), nullptr);
  EXPECT_EQ(moved.data()[123], 7);

  BigBuffer other(4096);
  other = std::move(moved);
  EXPECT_EQ(other.size(), size_t{5} << 20);
  EXPECT_EQ(other.data()[123], 7);
}

}  // namespace
}  // namespace sarathi::core
