// Structured output through the engine on a random-weight synthetic model: outputs under random
// JSON schemas (several seeds each) parse and validate, which the model alone never manages;
// constrained and unconstrained requests share batches without changing each other's tokens;
// every policy (with preemption) and both mask schedules give the same tokens; EOS comes only
// where the grammar may end, and a finished grammar ends the request.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/engine.h"
#include "engine/model_executor.h"
#include "grammar/json_schema.h"
#include "grammar/regex.h"
#include "model/llama.h"
#include "tests/grammar/json_schema_testing.h"

namespace sarathi::engine {
namespace {

using Json = nlohmann::ordered_json;

class Structured : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = model::LlamaModel::load("synthetic:tiny:q8_0", {.n_ctx = 512});
    ASSERT_TRUE(m.ok());
    model_ = std::move(*m).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }

  struct Run {
    std::map<RequestId, RequestRecord> records;
    std::map<RequestId, std::string> texts;
  };

  // Runs every request at once to completion under `cfg`.
  static Run run(const std::vector<RequestParams>& params, sched::SchedulerConfig cfg,
                 bool overlap = true, std::vector<std::vector<int32_t>> prompts = {}) {
    cfg.max_model_len = 512;
    auto exec = ModelExecutor::create(
        *model_, {.num_blocks = cfg.num_kv_blocks, .block_size = cfg.block_size}, 2);
    EXPECT_TRUE(exec.ok());
    EngineOptions eo{.sched = cfg, .keep_finished = true, .overlap_grammar_masks = overlap};
    auto eng = Engine::create(**exec, &model_->tokenizer(), eo);
    Run out;
    if (!eng.ok()) {
      ADD_FAILURE() << eng.error().message;
      return out;
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const auto prompt =
          prompts.empty() ? model_->tokenizer().encode("Reply in JSON:", true, false) : prompts[i];
      auto id = (*eng)->add_request(prompt, params[i],
                                    [&out](const TokenEvent& ev) { out.texts[ev.id] += ev.text; });
      EXPECT_TRUE(id.ok()) << id.error().message;
    }
    for (int guard = 0; (*eng)->has_work() && guard < 20000; ++guard)
      EXPECT_TRUE((*eng)->step().ok());
    for (RequestRecord& r : const_cast<std::vector<RequestRecord>&>((*eng)->finished()))
      out.records[r.id] = r;
    EXPECT_EQ((*eng)->scheduler().kv().num_used(), 0);
    return out;
  }

  static std::shared_ptr<grammar::CompiledGrammar> compile(const std::string& gbnf) {
    auto g = grammar::parse_gbnf(gbnf);
    EXPECT_TRUE(g.ok()) << g.error().message;
    // The vocabulary an engine over this model builds (and hands out as token_vocab()).
    static std::shared_ptr<const grammar::TokenVocab> vocab;
    if (!vocab) {
      auto exec = ModelExecutor::create(*model_, {.num_blocks = 4, .block_size = 16}, 1);
      auto eng = Engine::create(**exec, &model_->tokenizer(), {});
      vocab = (*eng)->token_vocab();
    }
    return std::make_shared<grammar::CompiledGrammar>(*g, vocab);
  }

  static sched::SchedulerConfig config(std::string policy, int32_t blocks = 512) {
    sched::SchedulerConfig c;
    c.policy = std::move(policy);
    c.num_kv_blocks = blocks;
    c.max_num_seqs = 64;
    c.max_num_batched_tokens = 512;
    c.chunk_size = 32;
    return c;
  }

  static model::LlamaModel* model_;
};

model::LlamaModel* Structured::model_ = nullptr;

// A grammar compiled for another vocabulary is refused; one for an equal vocabulary (another
// engine over the same model) is fine.
TEST_F(Structured, GrammarsMustBeCompiledForTheEngineVocabulary) {
  auto exec = ModelExecutor::create(*model_, {.num_blocks = 16, .block_size = 16}, 1);
  sched::SchedulerConfig cfg;
  cfg.num_kv_blocks = 16;
  cfg.max_model_len = 128;
  auto eng = Engine::create(**exec, &model_->tokenizer(), {.sched = cfg});
  ASSERT_TRUE(eng.ok());
  RequestParams p;
  p.grammar = compile("root ::= \"x\"\n");
  const auto prompt = model_->tokenizer().encode("hi", true, false);
  ASSERT_NE(&p.grammar->vocab(), (*eng)->token_vocab().get());
  EXPECT_TRUE((*eng)->validate(prompt, p).ok());
  std::vector<std::string> pieces(512, "x");
  p.grammar = std::make_shared<grammar::CompiledGrammar>(
      *grammar::parse_gbnf("root ::= \"x\"\n"),
      grammar::TokenVocab::create(std::move(pieces), {2}));
  auto err = (*eng)->validate(prompt, p);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().message, "the grammar was not compiled for this engine's vocabulary");
}

TEST_F(Structured, RandomSchemasGiveValidJsonOnARandomModel) {
  std::vector<RequestParams> params;
  std::vector<Json> schemas;
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    std::mt19937 rng(seed);
    Json defs = Json::object();
    Json schema = grammar::testing::random_schema(rng, 0, defs, /*bounded=*/true);
    if (!defs.empty()) schema["$defs"] = defs;
    auto gbnf = grammar::json_schema_to_gbnf(schema);
    ASSERT_TRUE(gbnf.ok()) << gbnf.error().message;
    auto cg = compile(*gbnf);
    for (uint64_t s = 0; s < 3; ++s) {  // greedy, then two seeds
      RequestParams p;
      p.max_tokens = 400;
      p.grammar = cg;
      if (s > 0) {
        p.sampling.temperature = 1.0f;
        p.sampling.seed = seed * 10 + s;
      }
      params.push_back(p);
      schemas.push_back(schema);
    }
  }
  // The same requests without the grammar: random weights never produce valid JSON.
  std::vector<RequestParams> free = params;
  for (auto& p : free) {
    p.grammar = nullptr;
    p.max_tokens = 40;
  }
  const Run r = run(params, config("sarathi"));
  const Run u = run(free, config("sarathi"));
  ASSERT_EQ(r.records.size(), params.size());
  int num_free_valid = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const RequestId id = static_cast<RequestId>(i + 1);
    EXPECT_EQ(r.records.at(id).finish, FinishReason::kStop) << r.texts.at(id);
    Json x;
    try {
      x = Json::parse(r.texts.at(id));
    } catch (const Json::exception& e) {
      ADD_FAILURE() << "request " << i << ": '" << r.texts.at(id) << "': " << e.what();
      continue;
    }
    EXPECT_TRUE(grammar::testing::valid(x, schemas[i], schemas[i]))
        << r.texts.at(id) << "\nagainst " << schemas[i].dump();
    try {
      num_free_valid +=
          grammar::testing::valid(Json::parse(u.texts.at(id)), schemas[i], schemas[i]);
    } catch (const Json::exception&) {
    }
  }
  EXPECT_EQ(num_free_valid, 0);
}

TEST_F(Structured, MixedBatchesPoliciesAndMaskSchedulesGiveTheSameTokens) {
  auto cg = compile(*grammar::json_schema_to_gbnf(Json::parse(
      R"({"type": "object", "properties": {"id": {"type": "integer"}, "tags": {"type": "array",
          "items": {"enum": ["a", "b", "c"]}, "maxItems": 3}}, "required": ["id", "tags"]})")));
  std::vector<RequestParams> params;
  std::vector<std::vector<int32_t>> prompts;
  std::mt19937 rng(7);
  for (int i = 0; i < 12; ++i) {
    RequestParams p;
    p.max_tokens = 48;
    p.sampling.temperature = i % 3 == 0 ? 0.0f : 0.8f;
    p.sampling.seed = 100 + static_cast<uint64_t>(i);
    if (i % 2 == 0)
      p.grammar = cg;  // every other request is constrained
    else
      p.ignore_eos = true;
    params.push_back(p);
    std::vector<int32_t> prompt(4 + rng() % 40);
    for (auto& t : prompt) t = 3 + static_cast<int32_t>(rng() % 256);
    prompts.push_back(prompt);
  }
  const Run ref = run(params, config("sarathi"), true, prompts);
  for (size_t i = 0; i < params.size(); i += 2) {  // constrained outputs parse
    const auto id = static_cast<RequestId>(i + 1);
    EXPECT_TRUE(Json::accept(ref.texts.at(id))) << ref.texts.at(id);
  }
  // Unconstrained requests alone give what they gave beside the constrained ones.
  std::vector<RequestParams> alone;
  std::vector<std::vector<int32_t>> alone_prompts;
  for (size_t i = 1; i < params.size(); i += 2) {
    alone.push_back(params[i]);
    alone_prompts.push_back(prompts[i]);
  }
  const Run a = run(alone, config("sarathi"), true, alone_prompts);
  for (size_t k = 0; k < alone.size(); ++k)
    EXPECT_EQ(a.records.at(static_cast<RequestId>(k + 1)).output,
              ref.records.at(static_cast<RequestId>(2 * k + 2)).output);
  struct Variant {
    std::string policy;
    int32_t blocks;
    bool overlap;
  };
  for (const Variant& v : {Variant{"sarathi", 512, false}, Variant{"vllm", 512, true},
                           Variant{"sarathi-serve", 12, true}, Variant{"orca", 512, true},
                           Variant{"static", 512, false}}) {
    SCOPED_TRACE(v.policy + " blocks=" + std::to_string(v.blocks));
    auto cfg = config(v.policy, v.blocks);
    if (v.policy == "sarathi-serve") {  // small chunks, few blocks: preemption
      cfg.max_num_batched_tokens = 16;
      cfg.max_num_seqs = 8;
    }
    const Run r = run(params, cfg, v.overlap, prompts);
    for (const auto& [id, rec] : ref.records) EXPECT_EQ(r.records.at(id).output, rec.output);
  }
}

TEST_F(Structured, EndOnlyWhereTheGrammarEnds) {
  const std::vector<std::string> choices = {"yes", "no", "maybe not"};
  auto cg = compile(*grammar::choices_to_gbnf(choices));
  std::vector<RequestParams> params;
  for (int i = 0; i < 6; ++i) {
    RequestParams p;
    p.max_tokens = 64;
    p.sampling.temperature = 1.5f;
    p.sampling.seed = static_cast<uint64_t>(i);
    p.grammar = cg;
    p.ignore_eos = i % 2 == 1;  // the grammar's end ends the request all the same
    params.push_back(p);
  }
  const Run r = run(params, config("sarathi"));
  for (const auto& [id, rec] : r.records) {
    const std::string& text = r.texts.at(id);
    EXPECT_NE(std::find(choices.begin(), choices.end(), text), choices.end()) << text;
    EXPECT_EQ(rec.finish, FinishReason::kStop);
    // The byte-level model spells each choice with one token per byte, or ends on an EOS
    // (allowed after "no" and "maybe not"... only where the grammar ends).
    EXPECT_LE(rec.output.size(), text.size() + 1);
  }
  // A regex that can go on forever stops at max_tokens with a prefix of a match.
  auto digits = compile(*grammar::regex_to_gbnf("[0-9]+"));
  RequestParams p;
  p.max_tokens = 10;
  p.grammar = digits;
  p.ignore_eos = true;
  const Run d = run({p}, config("vllm"));
  EXPECT_EQ(d.records.at(1).finish, FinishReason::kLength);
  EXPECT_EQ(d.texts.at(1).size(), 10u);
  EXPECT_EQ(d.texts.at(1).find_first_not_of("0123456789"), std::string::npos);
}

}  // namespace
}  // namespace sarathi::engine
