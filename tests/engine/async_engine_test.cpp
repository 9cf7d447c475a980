// The threaded engine: submissions from many threads, cancellation freeing KV within a step,
// the waiting-queue limit, metrics, and graceful shutdown. Runs under TSan in the tsan preset.
#include "engine/async_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine/model_executor.h"
#include "model/llama.h"

namespace sarathi::engine {
namespace {

using namespace std::chrono_literals;

class AsyncEngineTest : public ::testing::Test {
 protected:
  void start(int32_t max_queue = 0, int32_t max_num_seqs = 8) {
    auto m = model::LlamaModel::load("synthetic:tiny:q8_0", {.n_ctx = 256});
    ASSERT_TRUE(m.ok());
    model_ = std::move(*m);
    auto e = ModelExecutor::create(*model_, {.num_blocks = 128, .block_size = 16}, 2);
    ASSERT_TRUE(e.ok());
    exec_ = std::move(*e);
    sched::SchedulerConfig cfg;
    cfg.num_kv_blocks = 128;
    cfg.max_model_len = 256;
    cfg.max_num_seqs = max_num_seqs;
    auto a = AsyncEngine::create(*exec_, &model_->tokenizer(), {.sched = cfg},
                                 {.max_queue = max_queue, .model_name = "tiny"});
    ASSERT_TRUE(a.ok());
    engine_ = std::move(*a);
  }
  // Reads a stream to its end; returns the number of tokens.
  static int drain(RequestStream& s, FinishReason* why = nullptr) {
    int n = 0;
    for (int i = 0; i < 10000; ++i) {
      auto ev = s.next(5000ms);
      if (!ev) break;
      if (ev->token >= 0) ++n;
      if (ev->finish != FinishReason::kNone) {
        if (why) *why = ev->finish;
        break;
      }
    }
    return n;
  }
  RequestParams params(int32_t max_tokens) {
    RequestParams p;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    return p;
  }
  std::unique_ptr<model::LlamaModel> model_;
  std::unique_ptr<ModelExecutor> exec_;
  std::unique_ptr<AsyncEngine> engine_;
};

TEST_F(AsyncEngineTest, ManyThreadsSubmitAndAllComplete) {
  start();
  std::atomic<int> total{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c)
    clients.emplace_back([&, c] {
      for (int r = 0; r < 3; ++r) {
        auto s = engine_->submit({1, 40 + c, 50 + r}, params(5 + r));
        ASSERT_TRUE(s.ok());
        total += drain(**s);
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(total.load(), 6 * (5 + 6 + 7));
  const std::string m = engine_->metrics_text();
  EXPECT_NE(m.find("vllm:request_success_total{model_name=\"tiny\",finished_reason=\"length\"} 18"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("vllm:generation_tokens_total{model_name=\"tiny\"} 108"), std::string::npos);
  EXPECT_NE(m.find("vllm:time_to_first_token_seconds_count{model_name=\"tiny\"} 18"),
            std::string::npos);
}

TEST_F(AsyncEngineTest, CancelFreesBlocks) {
  start();
  auto s = engine_->submit(std::vector<int32_t>(100, 7), params(200 - 100 - 1));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->next(5000ms).has_value());  // running now
  // The gauges are refreshed after each step; wait for the first refresh.
  for (int i = 0; i < 500 && engine_->snapshot().kv_usage == 0.0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GT(engine_->snapshot().kv_usage, 0.0);
  (*s)->cancel();
  FinishReason why = FinishReason::kNone;
  drain(**s, &why);
  EXPECT_EQ(why, FinishReason::kAbort);
  for (int i = 0; i < 100 && engine_->snapshot().kv_usage > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(engine_->snapshot().kv_usage, 0.0);
  auto again = engine_->submit({1, 2, 3}, params(3));  // still serving
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(drain(**again), 3);
}

TEST_F(AsyncEngineTest, AbandonedStreamsDoNotBlockNewRequests) {
  start();
  for (int i = 0; i < 50; ++i) {
    auto s = engine_->submit({1, 9, 9}, params(100));
    ASSERT_TRUE(s.ok());
    (*s)->cancel();  // and dropped
  }
  auto s = engine_->submit({1, 2, 3}, params(4));
  ASSERT_TRUE(s.ok());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(drain(**s), 4);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
}

TEST_F(AsyncEngineTest, QueueLimitAndValidation) {
  start(/*max_queue=*/2, /*max_num_seqs=*/1);
  std::vector<std::shared_ptr<RequestStream>> held;
  int rejected = 0;
  for (int i = 0; i < 8; ++i) {
    auto s = engine_->submit({1, 2, 3}, params(50));
    if (s.ok()) {
      held.push_back(*s);
    } else {
      EXPECT_EQ(s.error().code, core::ErrorCode::kResourceExhausted);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  for (auto& s : held) EXPECT_EQ(drain(*s), 50);
  auto bad = engine_->submit(std::vector<int32_t>(300, 5), params(5));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, core::ErrorCode::kOutOfRange);
}

TEST_F(AsyncEngineTest, ShutdownLetsInFlightFinishThenRefuses) {
  start();
  auto s = engine_->submit({1, 2, 3}, params(20));
  ASSERT_TRUE(s.ok());
  std::thread reader([&] { EXPECT_EQ(drain(**s), 20); });
  EXPECT_TRUE(engine_->shutdown(30s));
  reader.join();
  auto late = engine_->submit({1, 2, 3}, params(2));
  ASSERT_FALSE(late.ok());
}

TEST_F(AsyncEngineTest, ShutdownTimeoutAbortsTheRest) {
  start();
  auto s = engine_->submit({1, 2, 3}, params(250));
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(engine_->shutdown(1ms));
  FinishReason why = FinishReason::kNone;
  drain(**s, &why);
  EXPECT_EQ(why, FinishReason::kAbort);
}

}  // namespace
}  // namespace sarathi::engine
