// core/big_buffer.h: large zero-initialised byte buffers (packed weights, the KV cache) mapped
// straight from the OS: pages are zeroed lazily as they are first touched and start 4 KiB
// aligned (so 64-byte aligned). (MADV_HUGEPAGE was tried: on this host it made 32-sequence
// decode steps 20-30% slower, so it is not asked for.) Depends on nothing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sarathi::core {

class BigBuffer {
 public:
  BigBuffer() = default;
  /// Maps `bytes` zeroed bytes; data() is null if the mapping failed (out of memory).
  explicit BigBuffer(size_t bytes);
  BigBuffer(BigBuffer&& other) noexcept;
  BigBuffer& operator=(BigBuffer&& other) noexcept;
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;
  ~BigBuffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sarathi::core
