// "Nothing allocated per step": the forward pass keeps its buffers (activations, packed
// activations, attention scratch and task list) across steps, so a step of a shape seen before
// allocates nothing, and a long decode only reallocates when a buffer outgrows its doubled
// capacity. Counted by replacing the global operator new in this test binary (its own
// executable, so no other test is affected).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/forward.h"
#include "model/llama.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};

void* counted_alloc(size_t n, size_t align) {
  if (g_counting.load(std::memory_order_relaxed))
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(size_t n) { return counted_alloc(n, 0); }
void* operator new[](size_t n) { return counted_alloc(n, 0); }
void* operator new(size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<size_t>(a));
}
void* operator new[](size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

namespace sarathi::model {
namespace {

struct Counted {
  Counted() {
    g_allocations = 0;
    g_counting = true;
  }
  ~Counted() { g_counting = false; }
  int64_t count() const { return g_allocations.load(); }
};

std::vector<kernels::Isa> isas() {
  std::vector<kernels::Isa> out;
  for (kernels::Isa isa :
       {kernels::Isa::kScalar, kernels::Isa::kAvx2, kernels::Isa::kAvx512, kernels::Isa::kAmx})
    if (kernels::isa_supported(isa)) out.push_back(isa);
  return out;
}

// A mixed step (a 40-token chunk and 3 decodes) run twice: the second allocates nothing. Then
// 200 decode steps of the 3 sequences: at most a few buffer growths.
TEST(StepAllocations, NoneForARepeatedShapeFewOverALongDecode) {
  for (const char* spec : {"synthetic:tiny:q8_0", "synthetic:tiny:bf16", "synthetic:tiny:f16"}) {
    auto m = LlamaModel::load(spec);
    ASSERT_TRUE(m.ok()) << m.error().message;
    for (kernels::Isa isa : isas()) {
      SCOPED_TRACE(std::string(spec) + " " + std::string(kernels::isa_name(isa)));
      auto cache = PagedKvCache::create(
          (*m)->config(), {.num_blocks = 64, .block_size = 16, .dtype = core::DType::kF16});
      ASSERT_TRUE(cache.ok());
      core::ThreadPool pool(2);
      Forward fwd(**m, **cache, pool, kernels::cpu_ops_for(isa));
      std::vector<int32_t> tokens(43, 5);
      std::vector<std::vector<int32_t>> tables(4);
      int32_t next = 0;
      for (auto& t : tables)
        for (int b = 0; b < 16; ++b) t.push_back(next++);
      std::vector<SeqInput> batch;
      batch.push_back({std::span(tokens).first(40), 0, tables[0], 1});
      for (int i = 1; i <= 3; ++i)
        batch.push_back({std::span(tokens).subspan(static_cast<size_t>(39 + i), 1), 20,
                         tables[static_cast<size_t>(i)], 1});
      ASSERT_TRUE(fwd.run(batch).ok());
      {
        Counted c;
        const bool ok = fwd.run(batch).ok();
        const int64_t n = c.count();
        ASSERT_TRUE(ok);
        EXPECT_EQ(n, 0) << "allocations in a repeated step";
      }
      std::vector<SeqInput> decode(batch.begin() + 1, batch.end());
      Counted c;
      bool ok = true;
      for (int32_t step = 0; step < 200 && ok; ++step) {
        for (SeqInput& s : decode) s.first_pos = 21 + step;
        ok = fwd.run(decode).ok();
      }
      const int64_t n = c.count();
      ASSERT_TRUE(ok);
      EXPECT_LE(n, 8) << "allocations over 200 decode steps";
    }
  }
}

}  // namespace
}  // namespace sarathi::model
