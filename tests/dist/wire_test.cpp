// The pipeline's messages without MPI: micro-batch, result and end messages survive encoding
// (every field, every stage time, the hidden states bit for bit), a malformed or truncated
// message is an error (never a crash), control commands round-trip, and the layer split is
// contiguous, balanced and refuses more stages than layers.
#include "dist/wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "dist/control.h"
#include "dist/partition.h"

namespace sarathi::dist {
namespace {

struct Batch {
  std::vector<std::vector<int32_t>> tokens, tables;
  std::vector<model::SeqInput> seqs;
  std::vector<float> hidden;
  std::vector<engine::StageTime> times;
};

Batch random_batch(uint32_t seed, int num_seqs, int n_embd, int num_times) {
  std::mt19937 rng(seed);
  Batch b;
  b.tokens.resize(static_cast<size_t>(num_seqs));
  b.tables.resize(static_cast<size_t>(num_seqs));
  int64_t total = 0;
  for (int i = 0; i < num_seqs; ++i) {
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int t = 0; t < n; ++t)
      b.tokens[static_cast<size_t>(i)].push_back(static_cast<int32_t>(rng() % 32000));
    const int blocks = 1 + static_cast<int>(rng() % 9);
    for (int t = 0; t < blocks; ++t)
      b.tables[static_cast<size_t>(i)].push_back(static_cast<int32_t>(rng() % 4096));
    total += n;
  }
  for (int i = 0; i < num_seqs; ++i) {
    const auto& toks = b.tokens[static_cast<size_t>(i)];
    b.seqs.push_back({toks, static_cast<int32_t>(rng() % 1000), b.tables[static_cast<size_t>(i)],
                      static_cast<int32_t>(rng() % (toks.size() + 1))});
  }
  std::normal_distribution<float> d;
  for (int64_t i = 0; i < total * n_embd; ++i) b.hidden.push_back(d(rng));
  for (int i = 0; i < num_times; ++i)
    b.times.push_back({.idle_s = 0.5 * i, .transfer_s = 1e-6 * i, .compute_s = 3.25 + i});
  return b;
}

TEST(Wire, BatchRoundTrip) {
  for (int num_seqs : {0, 1, 7, 64}) {
    for (int num_times : {0, 1, 3}) {
      const Batch b =
          random_batch(static_cast<uint32_t>(num_seqs * 10 + num_times), num_seqs, 16, num_times);
      Buffer bytes;
      encode({.kind = MessageKind::kBatch,
              .batch_idx = 1234567890123,
              .seqs = b.seqs,
              .times = b.times,
              .data = b.hidden},
             bytes);
      std::vector<model::SeqInput> seqs;
      std::vector<engine::StageTime> times;
      auto m = decode(bytes, seqs, times);
      ASSERT_TRUE(m.ok()) << m.error().message;
      EXPECT_EQ(m->kind, MessageKind::kBatch);
      EXPECT_EQ(m->batch_idx, 1234567890123);
      ASSERT_EQ(m->seqs.size(), b.seqs.size());
      for (size_t i = 0; i < b.seqs.size(); ++i) {
        const model::SeqInput &got = m->seqs[i], &want = b.seqs[i];
        EXPECT_TRUE(std::equal(got.tokens.begin(), got.tokens.end(), want.tokens.begin(),
                               want.tokens.end()));
        EXPECT_TRUE(std::equal(got.block_table.begin(), got.block_table.end(),
                               want.block_table.begin(), want.block_table.end()));
        EXPECT_EQ(got.first_pos, want.first_pos);
        EXPECT_EQ(got.num_logits, want.num_logits);
      }
      ASSERT_EQ(m->times.size(), b.times.size());
      for (size_t i = 0; i < b.times.size(); ++i) {
        EXPECT_EQ(m->times[i].idle_s, b.times[i].idle_s);
        EXPECT_EQ(m->times[i].transfer_s, b.times[i].transfer_s);
        EXPECT_EQ(m->times[i].compute_s, b.times[i].compute_s);
      }
      ASSERT_EQ(m->data.size(), b.hidden.size());
      if (!b.hidden.empty()) {  // memcmp must not be given the null data() of an empty span
        EXPECT_EQ(std::memcmp(m->data.data(), b.hidden.data(), b.hidden.size() * sizeof(float)),
                  0);
      }
      EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data.data()) % alignof(float), 0u);
      // Re-encoding into the same (recycled) buffer gives the same bytes.
      Buffer again = std::move(bytes);
      const Buffer copy = again;
      encode({.kind = MessageKind::kBatch,
              .batch_idx = 1234567890123,
              .seqs = b.seqs,
              .times = b.times,
              .data = b.hidden},
             again);
      EXPECT_EQ(again, copy);
    }
  }
}

TEST(Wire, ResultEndAndPatchedTime) {
  const std::vector<float> logits = {1.0f, -2.5f, 3.0f, 0.0f, 7.0f, 8.0f};
  std::vector<engine::StageTime> times(2);
  Buffer bytes;
  encode({.kind = MessageKind::kResult, .batch_idx = 9, .times = times, .data = logits}, bytes);
  patch_time(bytes, 1, {.idle_s = 1.5, .transfer_s = 0.25, .compute_s = 2.0});
  std::vector<model::SeqInput> seqs;
  std::vector<engine::StageTime> got_times;
  auto m = decode(bytes, seqs, got_times);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, MessageKind::kResult);
  EXPECT_TRUE(m->seqs.empty());
  EXPECT_EQ(std::vector<float>(m->data.begin(), m->data.end()), logits);
  ASSERT_EQ(m->times.size(), 2u);
  EXPECT_EQ(m->times[0].compute_s, 0.0);
  EXPECT_EQ(m->times[1].idle_s, 1.5);
  EXPECT_EQ(m->times[1].transfer_s, 0.25);
  EXPECT_EQ(m->times[1].compute_s, 2.0);
  encode({.kind = MessageKind::kEnd, .batch_idx = 3}, bytes);
  m = decode(bytes, seqs, got_times);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, MessageKind::kEnd);
  EXPECT_EQ(m->batch_idx, 3);
}

TEST(Wire, MalformedMessagesAreErrors) {
  const Batch b = random_batch(5, 5, 8, 2);
  Buffer good;
  encode({.kind = MessageKind::kBatch, .seqs = b.seqs, .times = b.times, .data = b.hidden}, good);
  std::vector<model::SeqInput> seqs;
  std::vector<engine::StageTime> times;
  ASSERT_TRUE(decode(good, seqs, times).ok());
  // Every truncation, and a byte too many.
  for (size_t n = 0; n < good.size(); n += (n < 256 ? 1 : 97))
    EXPECT_FALSE(decode(std::span(good).first(n), seqs, times).ok()) << n;
  Buffer longer = good;
  longer.push_back(std::byte{0});
  EXPECT_FALSE(decode(longer, seqs, times).ok());
  // Corrupting a byte of the header or of the sequence table is caught (or, for the token and
  // block ids, decodes into other ids of the same shape: those the forward pass validates).
  std::mt19937 rng(1);
  int caught = 0;
  for (size_t pos = 0; pos < 48 + 5 * 16; ++pos) {
    Buffer bad = good;
    bad[pos] = static_cast<std::byte>(static_cast<uint8_t>(bad[pos]) ^ (1u + rng() % 255));
    auto m = decode(bad, seqs, times);
    if (!m.ok()) {
      ++caught;
      continue;
    }
    for (const model::SeqInput& s : m->seqs) {  // whatever decodes stays inside the message
      EXPECT_GE(s.tokens.data(), reinterpret_cast<const int32_t*>(bad.data()));
      EXPECT_LE(s.block_table.data() + s.block_table.size(),
                reinterpret_cast<const int32_t*>(bad.data() + bad.size()));
    }
  }
  EXPECT_GT(caught, 40);
  Buffer wrong_magic = good;
  wrong_magic[0] = std::byte{0};
  auto m = decode(wrong_magic, seqs, times);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("not a pipeline message"), std::string::npos);
}

TEST(Control, CommandsRoundTrip) {
  LoadCommand load{.spec = "/models/x.gguf", .first_layer = 3, .end_layer = 7};
  load.options.n_ctx = 512;
  load.options.seed = 99;
  load.options.float_weights = core::DType::kBF16;
  auto p = parse_command(to_bytes(encode_command(load)));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->kind, Command::kLoad);
  EXPECT_EQ(p->load.spec, "/models/x.gguf");
  EXPECT_EQ(p->load.options.n_ctx, 512);
  EXPECT_EQ(p->load.options.seed, 99u);
  EXPECT_EQ(p->load.options.float_weights, core::DType::kBF16);
  EXPECT_EQ(p->load.first_layer, 3);
  EXPECT_EQ(p->load.end_layer, 7);
  load.options.float_weights.reset();
  p = parse_command(to_bytes(encode_command(load)));
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->load.options.float_weights.has_value());

  StartCommand start{.kv = {.num_blocks = 4096, .block_size = 32, .dtype = core::DType::kQ8_0},
                     .threads = 3};
  p = parse_command(to_bytes(encode_command(start)));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->kind, Command::kStart);
  EXPECT_EQ(p->start.kv.num_blocks, 4096);
  EXPECT_EQ(p->start.kv.block_size, 32);
  EXPECT_EQ(p->start.kv.dtype, core::DType::kQ8_0);
  EXPECT_EQ(p->start.threads, 3);

  p = parse_command(to_bytes(encode_command(ExitCommand{.code = 7})));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, Command::kExit);
  EXPECT_EQ(p->exit.code, 7);
  EXPECT_EQ(parse_command(to_bytes(encode_command(Command::kGo)))->kind, Command::kGo);
  EXPECT_EQ(parse_command(to_bytes(encode_command(Command::kCancel)))->kind, Command::kCancel);

  for (const std::string bad :
       {"", "{", "[]", R"({"cmd": 3})", R"({"cmd": "dance"})", R"({"cmd": "load", "spec": "x"})",
        R"({"cmd": "start", "num_blocks": 1, "block_size": 16,
                                    "kv_dtype": "q5_K", "threads": 1})"})
    EXPECT_FALSE(parse_command(to_bytes(bad)).ok()) << bad;

  EXPECT_TRUE(parse_reply(to_bytes(encode_reply(core::ok_status()))).ok);
  const Reply r = parse_reply(to_bytes(encode_reply(
      core::make_error(core::ErrorCode::kNotFound, "missing tensor blk.3.ffn_down.weight"))));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "missing tensor blk.3.ffn_down.weight");
  const Reply junk = parse_reply(to_bytes(std::string("garbage")));
  EXPECT_FALSE(junk.ok);
  EXPECT_NE(junk.error.find("malformed"), std::string::npos);
}

TEST(Partition, ContiguousBalancedAndChecked) {
  for (int32_t layers = 1; layers <= 40; ++layers) {
    for (int32_t stages = 1; stages <= layers; ++stages) {
      auto b = split_layers(layers, stages);
      ASSERT_TRUE(b.ok());
      ASSERT_EQ(b->size(), static_cast<size_t>(stages) + 1);
      EXPECT_EQ(b->front(), 0);
      EXPECT_EQ(b->back(), layers);
      int32_t lo = layers, hi = 0;
      for (size_t i = 0; i + 1 < b->size(); ++i) {
        const int32_t n = (*b)[i + 1] - (*b)[i];
        lo = std::min(lo, n);
        hi = std::max(hi, n);
        if (i > 0) {
          EXPECT_LE(n, (*b)[i] - (*b)[i - 1]);  // earlier stages take the extra layers
        }
      }
      EXPECT_GE(lo, 1);
      EXPECT_LE(hi - lo, 1);
    }
  }
  EXPECT_EQ(*split_layers(22, 2), (std::vector<int32_t>{0, 11, 22}));
  EXPECT_EQ(*split_layers(5, 3), (std::vector<int32_t>{0, 2, 4, 5}));
  auto too_many = split_layers(2, 3);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("--pipeline-parallel-size 3 is more stages than the "
                                          "model's 2 layers"),
            std::string::npos);
  EXPECT_FALSE(split_layers(4, 0).ok());
}

}  // namespace
}  // namespace sarathi::dist
