// `sarathi bench grammar`: the per-token cost of grammar-constrained sampling (the matcher's
// mask, applying it to a logit row, advancing by the sampled token) on real vocabularies, for a
// new grammar (masks walked on first use) and a cached one (precomputed, as the server keeps
// them). Compare with a decode step: `sarathi bench step-cost --batch-sizes 32 --chunk-sizes 1`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>

#include "cli/commands.h"
#include "engine/sampler.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace sarathi::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct GrammarArgs {
  std::vector<std::string> vocabs = {"../shared/models/llama-2-tiny-random.gguf",
                                     "qwen2-sized:../shared/models/ggml-vocab-gpt-2.gguf"};
  int tokens = 2000;
  uint32_t seed = 1;
};

const char* kSchema = R"({"type": "object", "properties": {
  "name": {"type": "string"}, "age": {"type": "integer"}, "email": {"type": "string"},
  "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
  "address": {"type": "object", "properties": {"city": {"type": "string"},
              "zip": {"type": "string", "pattern": "[0-9]{5}"}}, "required": ["city", "zip"]},
  "active": {"type": "boolean"}},
  "required": ["name", "age", "email", "tags", "address", "active"]})";

core::Result<std::shared_ptr<const grammar::TokenVocab>> load_vocab(const std::string& spec,
                                                                    std::string* what) {
  const bool qwen = spec.rfind("qwen2-sized:", 0) == 0;
  const std::string path = qwen ? spec.substr(12) : spec;
  SARATHI_ASSIGN_OR_RETURN(auto file, model::GgufFile::open(path));
  SARATHI_ASSIGN_OR_RETURN(auto tok, model::Tokenizer::from_gguf(*file));
  std::vector<std::string> pieces;
  std::vector<int32_t> eos;
  for (int32_t i = 0; i < tok->n_vocab(); ++i) {
    pieces.push_back(tok->is_eog(i) ? std::string() : tok->token_to_piece(i, false));
    if (tok->is_eog(i)) eos.push_back(i);
  }
  *what = fmt::format("{} ({} tokens)", path, pieces.size());
  if (qwen) {
    // Qwen2's 151,936 tokens, approximated: these pieces, then pairs of them (longer merges) and
    // runs of 1-3 CJK characters (Qwen2's added multilingual pieces), seeded and distinct.
    std::mt19937 rng(7);
    std::set<std::string> seen(pieces.begin(), pieces.end());
    const size_t base = pieces.size();
    while (pieces.size() < 151936) {
      std::string p;
      if (rng() % 3 == 0) {
        const int n = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < n; ++k) {
          const uint32_t cp = 0x4E00 + rng() % 0x5200;
          p += static_cast<char>(0xE0 | (cp >> 12));
          p += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          p += static_cast<char>(0x80 | (cp & 0x3F));
        }
      } else {
        p = pieces[rng() % base] + pieces[rng() % base];
      }
      if (!p.empty() && seen.insert(p).second) pieces.push_back(p);
    }
    *what = fmt::format("Qwen2-sized: {} + pairs and CJK runs ({} tokens)", path, pieces.size());
  }
  return grammar::TokenVocab::create(std::move(pieces), std::move(eos));
}

struct Timing {
  std::vector<double> mask_us, apply_us, accept_us;
  void add(double m, double a, double c) {
    mask_us.push_back(m);
    apply_us.push_back(a);
    accept_us.push_back(c);
  }
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Generates `tokens` tokens under the grammar (fresh matchers as each text ends), timing each.
// Token choice: uniformly among allowed tokens, but a third of the time among the allowed ones
// with punctuation, so that strings close and texts end.
Timing run(const std::shared_ptr<grammar::CompiledGrammar>& cg, int tokens, uint32_t seed,
           int* num_texts) {
  const grammar::TokenVocab& v = cg->vocab();
  std::mt19937 rng(seed);
  std::vector<uint64_t> mask(v.mask_words());
  std::vector<float> logits(static_cast<size_t>(v.size()));
  Timing t;
  *num_texts = 0;
  auto m = std::make_unique<grammar::Matcher>(cg);
  std::vector<int32_t> allowed, punct;
  for (int i = 0; i < tokens; ++i) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    const auto t0 = Clock::now();
    m->fill_mask(mask);
    const auto t1 = Clock::now();
    engine::apply_token_mask(mask, logits);
    const auto t2 = Clock::now();
    allowed.clear();
    punct.clear();
    for (int32_t id = 0; id < v.size(); ++id)
      if ((mask[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1) {
        allowed.push_back(id);
        const std::string& p = v.piece(id);
        if (v.is_eos(id) || std::any_of(p.begin(), p.end(), [](char c) { return std::ispunct(static_cast<unsigned char>(c)); }))
          punct.push_back(id);
      }
    const auto& pool = !punct.empty() && rng() % 3 == 0 ? punct : allowed;
    const int32_t id = pool[rng() % pool.size()];
    const auto t3 = Clock::now();
    const bool ok = m->accept_token(id);
    const auto t4 = Clock::now();
    if (!ok) break;  // cannot happen: the token was allowed
    auto us = [](auto a, auto b) { return std::chrono::duration<double, std::micro>(b - a).count(); };
    t.add(us(t0, t1), us(t1, t2), us(t3, t4));
    if (m->is_terminated()) {
      ++*num_texts;
      m = std::make_unique<grammar::Matcher>(cg);
    }
  }
  return t;
}

void report(const char* label, const Timing& t) {
  std::vector<double> total;
  for (size_t i = 0; i < t.mask_us.size(); ++i)
    total.push_back(t.mask_us[i] + t.apply_us[i] + t.accept_us[i]);
  std::printf("  %-26s mean %8.1f us  p50 %8.1f  p99 %8.1f  max %9.1f | mask %7.1f  apply %6.1f  "
              "accept %5.1f\n",
              label, mean(total), percentile(total, 0.5), percentile(total, 0.99),
              percentile(total, 1.0), mean(t.mask_us), mean(t.apply_us), mean(t.accept_us));
}

int run_bench(const GrammarArgs& a) {
  auto schema_gbnf = grammar::json_schema_to_gbnf(nlohmann::ordered_json::parse(kSchema));
  if (!schema_gbnf.ok()) return std::fprintf(stderr, "%s\n", schema_gbnf.error().message.c_str()), 1;
  const std::pair<const char*, std::string> grammars[] = {{"json schema", *schema_gbnf},
                                                          {"json_object", grammar::json_value_gbnf(true)}};
  for (const std::string& spec : a.vocabs) {
    std::string what;
    const auto t0 = Clock::now();
    auto vocab = load_vocab(spec, &what);
    if (!vocab.ok()) {
      std::fprintf(stderr, "%s: %s\n", spec.c_str(), vocab.error().message.c_str());
      return 1;
    }
    std::printf("vocabulary %s: trie of %zu nodes, built in %.0f ms\n", what.c_str(),
                (*vocab)->trie().size(),
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    for (const auto& [name, gbnf] : grammars) {
      auto g = grammar::parse_gbnf(gbnf);
      if (!g.ok()) return std::fprintf(stderr, "%s\n", g.error().message.c_str()), 1;
      int texts = 0;
      auto cold = std::make_shared<grammar::CompiledGrammar>(*g, *vocab);
      const Timing tc = run(cold, a.tokens, a.seed, &texts);
      auto warm = std::make_shared<grammar::CompiledGrammar>(*g, *vocab);
      const auto p0 = Clock::now();
      warm->precompute();
      const double pre_ms = std::chrono::duration<double, std::milli>(Clock::now() - p0).count();
      run(warm, a.tokens, a.seed + 1, &texts);  // a first request fills the per-stack memo
      const Timing tw = run(warm, a.tokens, a.seed + 2, &texts);
      const auto st = warm->stats();
      std::printf(" %s: %d tokens per run, %d texts; precompute %.0f ms (%zu positions, %zu "
                  "uncertain tokens), %zu stacks memoized\n",
                  name, a.tokens, texts, pre_ms, st.num_positions, st.num_uncertain,
                  st.num_stack_entries);
      report("new grammar (lazy walks)", tc);
      report("cached grammar", tw);
    }
  }
  return 0;
}

}  // namespace

Runner add_bench_grammar(CLI::App& bench) {
  auto args = std::make_shared<GrammarArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "grammar",
      "Per-token cost of grammar-constrained sampling (mask, apply, advance) on real "
      "vocabularies, for a JSON schema and for any JSON object");
  cmd->add_option("--vocabs", args->vocabs,
                  "GGUF files whose tokenizers to use; 'qwen2-sized:PATH' extends PATH's "
                  "vocabulary to Qwen2's 151,936 tokens")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--tokens", args->tokens, "Tokens generated per run")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--seed", args->seed, "Token choice seed")->capture_default_str();
  return [args] { return run_bench(*args); };
}

}  // namespace sarathi::cli
