#include "core/big_buffer.h"

#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <cstdlib>

namespace sarathi::core {

BigBuffer::BigBuffer(size_t bytes) {
  if (bytes == 0) return;
#if defined(__linux__)
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  data_ = static_cast<uint8_t*>(p);
#else
  data_ = static_cast<uint8_t*>(std::calloc(bytes, 1));
  if (data_ == nullptr) return;
#endif
  size_ = bytes;
}

BigBuffer::BigBuffer(BigBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

BigBuffer& BigBuffer::operator=(BigBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

BigBuffer::~BigBuffer() { release(); }

void BigBuffer::release() {
  if (data_ == nullptr) return;
#if defined(__linux__)
  munmap(data_, size_);
#else
  std::free(data_);
#endif
  data_ = nullptr;
  size_ = 0;
}

}  // namespace sarathi::core
