// The non-matmul ops and the matmul driver against plain references on random inputs.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <string>

#include "core/fp16.h"
#include "kernels/matmul.h"

namespace sarathi::kernels {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Ops, RmsNorm) {
  for (int64_t n : {1, 7, 64, 333}) {
    auto x = randn(static_cast<size_t>(3 * n), 1);
    auto w = randn(static_cast<size_t>(n), 2);
    std::vector<float> y(x.size());
    rms_norm(x.data(), w.data(), y.data(), 3, n, 1e-5f);
    for (int64_t r = 0; r < 3; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < n; ++i) ss += double(x[r * n + i]) * x[r * n + i];
      const double s = 1.0 / std::sqrt(ss / double(n) + 1e-5);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_NEAR(y[r * n + i], x[r * n + i] * s * w[i], 1e-5 * (1 + std::fabs(y[r * n + i])));
    }
  }
}

TEST(Ops, RopeMatchesDirectFormula) {
  for (RopeKind kind : {RopeKind::kNorm, RopeKind::kNeox}) {
    const int32_t heads = 3, hd = 16;
    RopeParams p{.kind = kind, .n_rot = 12, .freq_base = 10000.0f, .freq_scale = 0.5f};
    const std::vector<int32_t> pos = {0, 1, 17, 1000};
    auto x = randn(pos.size() * heads * hd, 3);
    auto y = x;
    rope(y.data(), pos.data(), static_cast<int64_t>(pos.size()), heads, hd, p);
    for (size_t t = 0; t < pos.size(); ++t) {
      for (int h = 0; h < heads; ++h) {
        const float* a = x.data() + (t * heads + h) * hd;
        const float* b = y.data() + (t * heads + h) * hd;
        for (int i = 0; i < p.n_rot / 2; ++i) {
          const double th = pos[t] * p.freq_scale * std::pow(10000.0, -2.0 * i / p.n_rot);
          const int i0 = kind == RopeKind::kNorm ? 2 * i : i;
          const int i1 = kind == RopeKind::kNorm ? 2 * i + 1 : i + p.n_rot / 2;
          EXPECT_NEAR(b[i0], a[i0] * std::cos(th) - a[i1] * std::sin(th), 2e-4);
          EXPECT_NEAR(b[i1], a[i0] * std::sin(th) + a[i1] * std::cos(th), 2e-4);
        }
        for (int i = p.n_rot; i < hd; ++i) EXPECT_EQ(b[i], a[i]);  // unrotated tail
      }
    }
  }
}

// Llama 3.1's per-pair divisors and YaRN's ramp between interpolated and extrapolated angles,
// with its magnitude scale, against GGML's formulas written out in double.
TEST(Ops, RopeFreqFactorsAndYarn) {
  const int32_t heads = 2, hd = 32, n_rot = 32;
  std::vector<float> ff;
  for (int i = 0; i < n_rot / 2; ++i) ff.push_back(1.0f + 0.5f * static_cast<float>(i % 5));
  for (bool yarn : {false, true}) {
    RopeParams p{.kind = RopeKind::kNeox, .n_rot = n_rot, .freq_base = 1e6f, .freq_scale = 0.25f};
    p.freq_factors = ff;
    if (yarn) {
      p.ext_factor = 1.0f;
      p.attn_factor = 1.1f;
      p.n_ctx_orig = 1024;
    }
    const std::vector<int32_t> pos = {0, 3, 700, 5000};
    auto x = randn(pos.size() * heads * hd, 7);
    auto y = x;
    rope(y.data(), pos.data(), static_cast<int64_t>(pos.size()), heads, hd, p);
    auto corr = [&](double beta) {
      return n_rot * std::log(1024.0 / (beta * 2 * M_PI)) / (2 * std::log(1e6));
    };
    const double lo = std::max(0.0, std::floor(corr(32.0)));
    const double hi = std::min(double(n_rot - 1), std::ceil(corr(1.0)));
    for (size_t t = 0; t < pos.size(); ++t) {
      for (int i = 0; i < n_rot / 2; ++i) {
        const double extrap = pos[t] * std::pow(1e6, -2.0 * i / n_rot) / ff[static_cast<size_t>(i)];
        double th = 0.25 * extrap, m = 1.0;
        if (yarn) {
          const double ramp = 1.0 - std::clamp((i - lo) / std::max(0.001, hi - lo), 0.0, 1.0);
          th = th * (1 - ramp) + extrap * ramp;
          m = 1.1 * (1.0 + 0.1 * std::log(4.0));
        }
        for (int h = 0; h < heads; ++h) {
          const float* a = x.data() + (t * heads + h) * hd;
          const float* b = y.data() + (t * heads + h) * hd;
          const int i0 = i, i1 = i + n_rot / 2;
          // Angles up to 5000 radians in float: GGML's iterated products carry ~1e-3.
          EXPECT_NEAR(b[i0], m * (a[i0] * std::cos(th) - a[i1] * std::sin(th)), 2e-2);
          EXPECT_NEAR(b[i1], m * (a[i0] * std::sin(th) + a[i1] * std::cos(th)), 2e-2);
        }
      }
    }
  }
}

TEST(Ops, Swiglu) {
  auto g = randn(37, 4, 3.0f), u = randn(37, 5);
  std::vector<float> o(37);
  swiglu(g.data(), u.data(), o.data(), 37);
  for (size_t i = 0; i < 37; ++i)
    EXPECT_NEAR(o[i], g[i] / (1 + std::exp(-double(g[i]))) * u[i], 1e-5);
}

// Every ISA's attention against a dense double-precision reference: GQA, scattered blocks
// smaller than a vector, larger but not a multiple of it, and a multiple of it (K is stored
// transposed per block; the AVX-512 kernel reads 16-position vectors straight from such blocks),
// several sequences with chunks and decodes, head sizes below, between and at SIMD widths.
// A q8_0 row round trip (GGML's reference quantizer, then dequantized): what a q8_0 cache holds.
std::vector<float> q8_round_trip(const float* x, int64_t n) {
  const CpuOps& ref = cpu_ops_for(Isa::kScalar);
  std::vector<core::BlockQ8_0> q(static_cast<size_t>(n / core::kQK8_0));
  ref.q8_0.from_float(x, q.data(), n);
  std::vector<float> y(static_cast<size_t>(n));
  ref.q8_0.to_float(q.data(), y.data(), n);
  return y;
}

TEST(Ops, PagedAttentionMatchesDense) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
    if (!isa_supported(isa)) continue;
    for (int32_t hd : {8, 40, 64, 128}) {
      for (core::DType dt : {core::DType::kF32, core::DType::kF16, core::DType::kQ8_0}) {
        if (dt == core::DType::kQ8_0 && hd % 32 != 0) continue;
        for (int32_t bs : {4, 24, 32}) {
          SCOPED_TRACE(std::string(isa_name(isa)) + " hd " + std::to_string(hd) + " " +
                       std::string(core::dtype_name(dt)) + " block " + std::to_string(bs));
          const int32_t kv_heads = 2, heads = 6, nblocks = 64;
          std::vector<uint16_t> kbuf(nblocks * bs * kv_heads * hd * 2), vbuf(kbuf.size());
          PagedKvLayer kv{kbuf.data(), vbuf.data(), dt, nblocks, bs, kv_heads, hd};
          core::ThreadPool pool(2);
          AttnScratch scratch;
          struct Seq {
            int first, num;
            std::vector<int32_t> table;
            std::vector<float> k, v;
          };
          std::vector<Seq> seqs = {
              {0, 9, {}, {}, {}}, {13, 1, {}, {}, {}}, {5, 6, {}, {}, {}}, {40, 30, {}, {}, {}}};
          int32_t next_block = 63;
          uint32_t seed = 10;
          for (auto& s : seqs) {
            const int total = s.first + s.num;
            for (int b = 0; b < (total + bs - 1) / bs; ++b)
              s.table.push_back(next_block--);  // scattered
            s.k = randn(static_cast<size_t>(total * kv_heads * hd), seed++);
            s.v = randn(static_cast<size_t>(total * kv_heads * hd), seed++);
            kv_store(kv, s.table.data(), 0, total, s.k.data(), s.v.data());
          }
          int rows = 0;
          std::vector<AttnSeq> as;
          for (auto& s : seqs) {
            as.push_back({rows, s.num, s.first, s.table.data()});
            rows += s.num;
          }
          auto q = randn(static_cast<size_t>(rows * heads * hd), 99);
          std::vector<float> out(q.size());
          const float scale = 1.0f / std::sqrt(float(hd));
          // A sliding window of 12 with 24-position blocks: the first and third sequences stay
          // inside it (the SIMD kernels), the others reach past it (the scalar loop).
          const int32_t window = bs == 24 ? 12 : 0;
          const float cap = bs == 4 ? 1.5f : 0.0f;  // Gemma 2's soft cap (scalar loop)
          attention(cpu_ops_for(isa), kv, as, q.data(), heads, scale, out.data(), pool, scratch,
                    window, cap);
          // f16 storage and rounding of Q and P bound the error at a few f16 ulps of O(1) values;
          // a q8_0 cache is compared with its own dequantized values (f32 arithmetic after).
          const double tol = dt == core::DType::kF16 ? 5e-3 : 1e-5;
          auto rd = [&](float x) {
            return dt == core::DType::kF16 ? core::f16_to_f32(core::f32_to_f16(x)) : x;
          };
          for (auto& s : seqs) {
            if (dt != core::DType::kQ8_0) break;
            for (size_t r = 0; r < s.k.size(); r += static_cast<size_t>(hd)) {
              const auto k = q8_round_trip(s.k.data() + r, hd);
              const auto v = q8_round_trip(s.v.data() + r, hd);
              std::copy(k.begin(), k.end(), s.k.begin() + static_cast<std::ptrdiff_t>(r));
              std::copy(v.begin(), v.end(), s.v.begin() + static_cast<std::ptrdiff_t>(r));
            }
          }
          for (size_t si = 0; si < seqs.size(); ++si) {
            const Seq& s = seqs[si];
            for (int i = 0; i < s.num; ++i) {
              const int len = s.first + i + 1;
              const int start = window > 0 ? std::max(0, len - window) : 0;
              for (int h = 0; h < heads; ++h) {
                const int kvh = h / (heads / kv_heads);
                const float* qh = q.data() + ((as[si].q_begin + i) * heads + h) * hd;
                std::vector<double> sc(static_cast<size_t>(len), -1e300);
                double mx = -1e300, sum = 0;
                for (int p = start; p < len; ++p) {
                  double d = 0;
                  for (int j = 0; j < hd; ++j)
                    d += double(qh[j]) * rd(s.k[(p * kv_heads + kvh) * hd + j]);
                  sc[p] = d * scale;
                  if (cap > 0.0f) sc[p] = cap * std::tanh(sc[p] / cap);
                  mx = std::max(mx, sc[p]);
                }
                for (auto& x : sc) sum += (x = std::exp(x - mx));  // 0 outside the window
                for (int j = 0; j < hd; ++j) {
                  double o = 0;
                  for (int p = 0; p < len; ++p)
                    o += sc[p] / sum * rd(s.v[(p * kv_heads + kvh) * hd + j]);
                  EXPECT_NEAR(out[((as[si].q_begin + i) * heads + h) * hd + j], o, tol)
                      << "seq " << si << " q " << i << " head " << h;
                }
              }
            }
          }
        }
      }
    }
  }
}

// A query attended alone (a decode: the tiled single-query path) gets exactly the bits it gets
// inside a chunk of queries, on every ISA: contexts crossing 16- and 64-position tiles, a head
// size that is not a multiple of 16, f16 and f32 caches, with and without a window and a cap.
TEST(Ops, AttentionOfOneQueryEqualsItsRowInAChunk) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
    if (!isa_supported(isa)) continue;
    const CpuOps& ops = cpu_ops_for(isa);
    for (core::DType dt : {core::DType::kF32, core::DType::kF16, core::DType::kQ8_0}) {
      for (int32_t hd : {64, 40}) {
        if (dt == core::DType::kQ8_0 && hd % 32 != 0) continue;
        SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(core::dtype_name(dt)) + " hd " +
                     std::to_string(hd));
        const int32_t kv_heads = 2, heads = 8, bs = 16, total = 150, nblocks = 16;
        std::vector<uint16_t> kbuf(static_cast<size_t>(nblocks * bs * kv_heads * hd * 2));
        std::vector<uint16_t> vbuf(kbuf.size());
        PagedKvLayer kv{kbuf.data(), vbuf.data(), dt, nblocks, bs, kv_heads, hd};
        std::vector<int32_t> table;
        for (int b = 0; b < (total + bs - 1) / bs; ++b) table.push_back(nblocks - 1 - b);
        const auto k = randn(static_cast<size_t>(total * kv_heads * hd), 3);
        const auto v = randn(static_cast<size_t>(total * kv_heads * hd), 4);
        kv_store(kv, table.data(), 0, total, k.data(), v.data());
        core::ThreadPool pool(2);
        AttnScratch scratch;
        const int32_t first = 60;  // a chunk of 90 queries after 60 cached positions
        const int32_t num = total - first;
        const auto q = randn(static_cast<size_t>(num * heads * hd), 5);
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        // Plain, a sliding window that the chunk crosses (queries before position 100 see
        // everything, later ones a window: the two kernels meet inside one task), and a soft cap.
        for (auto [window, cap] : {std::pair{0, 0.0f}, std::pair{100, 0.0f}, std::pair{0, 2.0f},
                                   std::pair{75, 3.0f}}) {
          SCOPED_TRACE("window " + std::to_string(window) + " cap " + std::to_string(cap));
          std::vector<float> chunk(q.size());
          const AttnSeq whole{0, num, first, table.data()};
          attention(ops, kv, std::span(&whole, 1), q.data(), heads, scale, chunk.data(), pool,
                    scratch, window, cap);
          for (int32_t i = 0; i < num; i += 7) {
            const size_t row = static_cast<size_t>(i) * heads * static_cast<size_t>(hd);
            std::vector<float> alone(static_cast<size_t>(heads * hd));
            const AttnSeq one{0, 1, first + i, table.data()};
            attention(ops, kv, std::span(&one, 1), q.data() + row, heads, scale, alone.data(),
                      pool, scratch, window, cap);
            ASSERT_EQ(0,
                      std::memcmp(alone.data(), chunk.data() + row, alone.size() * sizeof(float)))
                << "query " << i;
          }
        }
      }
    }
  }
}

// kv_store into a q8_0 cache writes the same bytes with every ISA's quantizer as with the
// scalar one (GGML's reference), quants and scales in their places.
TEST(Ops, KvStoreQ8SameBytesOnEveryIsa) {
  const int32_t kv_heads = 2, hd = 64, bs = 16, nblocks = 8, total = 70;
  const size_t bytes = static_cast<size_t>(nblocks * kv_heads) * kv_q8_region_bytes(bs, hd);
  const auto k = randn(static_cast<size_t>(total * kv_heads * hd), 21, 3.0f);
  const auto v = randn(static_cast<size_t>(total * kv_heads * hd), 22, 0.1f);
  const std::vector<int32_t> table = {6, 1, 7, 0, 3};
  std::vector<uint8_t> kref(bytes), vref(bytes);
  PagedKvLayer ref{kref.data(), vref.data(), core::DType::kQ8_0, nblocks, bs, kv_heads, hd};
  kv_store(cpu_ops_for(Isa::kScalar), ref, table.data(), 0, total, k.data(), v.data());
  // Position 37, KV head 1, element 40: its quant and its group's scale, as GGML would store.
  {
    const int pos = 37, h = 1, j = 40;
    const size_t region = static_cast<size_t>(table[pos / bs] * kv_heads + h) *
                          kv_q8_region_bytes(bs, hd);
    core::BlockQ8_0 blk[2];
    cpu_ops_for(Isa::kScalar).q8_0.from_float(k.data() + (pos * kv_heads + h) * hd, blk, hd);
    EXPECT_EQ(static_cast<int8_t>(kref[region + static_cast<size_t>(j * bs + pos % bs)]),
              blk[1].qs[j - 32]);
    uint16_t scale;
    std::memcpy(&scale, kref.data() + region + bs * hd + (1 * bs + pos % bs) * 2, 2);
    EXPECT_EQ(scale, blk[1].d);
  }
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
    if (!isa_supported(isa)) continue;
    std::vector<uint8_t> kb(bytes), vb(bytes);
    PagedKvLayer kv{kb.data(), vb.data(), core::DType::kQ8_0, nblocks, bs, kv_heads, hd};
    kv_store(cpu_ops_for(isa), kv, table.data(), 0, total, k.data(), v.data());
    EXPECT_EQ(kb, kref) << isa_name(isa);
    EXPECT_EQ(vb, vref) << isa_name(isa);
  }
}

// The threaded matmul driver against a dequantize-then-double reference, for every type and
// every SIMD level, with batch sizes 1..5 and odd row counts.
TEST(Matmul, MatchesReferenceForEveryTypeAndIsa) {
  using core::DType;
  core::ThreadPool pool(2);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
    if (!isa_supported(isa)) continue;
    const CpuOps& ops = cpu_ops_for(isa);
    for (DType dt : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                     DType::kQ4_K, DType::kQ6_K}) {
      const int64_t cols = core::dtype_block_size(dt) == 256 ? 512 : 96;
      const int64_t rows = 37;
      const size_t rb = *core::dtype_row_bytes(dt, cols);
      std::vector<uint8_t> w(rb * rows);
      auto wf = randn(static_cast<size_t>(rows * cols), 7, 0.1f);
      for (int64_t r = 0; r < rows; ++r)
        ops.type(dt).from_float(wf.data() + r * cols, w.data() + r * rb, cols);
      WeightView wv{dt, w.data(), rows, cols, rb};
      for (int64_t m : {1, 2, 5}) {
        auto x = randn(static_cast<size_t>(m * cols), 8);
        std::vector<float> y(static_cast<size_t>(m * rows)), yr(y.size());
        MatmulScratch s;
        matmul(ops, pool, wv, x.data(), m, y.data(), s);
        matmul_ref(ops, wv, x.data(), m, yr.data());
        // Activation quantization error: q8 ~ |x|max/254 per element -> relative ~1% of the
        // dot's scale; f16/bf16 activations: 2^-11 / 2^-8 relative per element.
        double scale = 0;
        for (float v : yr) scale = std::max(scale, double(std::fabs(v)));
        const double rel = dt == DType::kF32    ? 1e-5
                           : dt == DType::kF16  ? 2e-3
                           : dt == DType::kBF16 ? 1.5e-2
                                                : 3e-2;
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], yr[i], rel * scale)
              << isa_name(isa) << " " << core::dtype_name(dt) << " m=" << m << " i=" << i;
      }
    }
  }
}

}  // namespace
}  // namespace sarathi::kernels
