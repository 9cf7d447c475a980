// The matcher's masks against a brute-force oracle: for random grammars and random vocabularies
// (multi-byte characters split across tokens, tokens spanning several terminals), every token
// is allowed exactly when the text so far plus the token is a prefix of some sentence, and EOS
// exactly when the text is a sentence. The oracle is a separate backtracking recognizer over
// the lowered grammar that decodes characters itself; it shares no code with the matcher.
#include "grammar/matcher.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "grammar/grammar.h"

namespace sarathi::grammar {
namespace {

// ---- the oracle -----------------------------------------------------------------------------

class Oracle {
 public:
  explicit Oracle(const Grammar& g) : g_(g) {}

  /// Whether `s` can be extended to a sentence (s itself included).
  bool prefix_ok(const std::string& s) {
    reset(s);
    const Result r = rule(g_.root, 0);
    return r.prefix || r.ends.count(s.size()) > 0;
  }
  /// Whether `s` is a sentence.
  bool complete(const std::string& s) {
    reset(s);
    return rule(g_.root, 0).ends.count(s.size()) > 0;
  }

 private:
  struct Result {
    std::set<size_t> ends;  // input offsets where a derivation can stop
    bool prefix = false;    // a derivation ran past the end of the input
  };

  void reset(const std::string& s) {
    s_ = s;
    memo_.clear();
    seq_memo_.clear();
  }

  static int seq_len(uint8_t lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
  }

  bool in_class(const CharClass& c, uint32_t cp) const {
    for (const CodeRange& r : c.ranges)
      if (cp >= r.lo && cp <= r.hi) return true;
    return false;
  }

  // One character of class c at offset i: its end offsets, or prefix when the input ends
  // inside a character that could still be in the class.
  void match_class(const CharClass& c, size_t i, Result& out) const {
    if (i == s_.size()) {
      out.prefix = out.prefix || !c.ranges.empty();
      return;
    }
    const auto lead = static_cast<uint8_t>(s_[i]);
    const int len = seq_len(lead);
    if (len == 0) return;
    uint32_t cp = len == 1 ? lead : lead & (0x7Fu >> len);
    int have = 1;
    for (; have < len && i + static_cast<size_t>(have) < s_.size(); ++have) {
      const auto b = static_cast<uint8_t>(s_[i + static_cast<size_t>(have)]);
      if ((b & 0xC0) != 0x80) return;
      cp = (cp << 6) | (b & 0x3F);
    }
    const uint32_t min_cp = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (have == len) {
      if (cp >= min_cp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) && in_class(c, cp))
        out.ends.insert(i + static_cast<size_t>(len));
      return;
    }
    // Cut short: some completion must be a valid code point in the class.
    const int missing = len - have;
    const uint32_t lo = cp << (6 * missing), hi = lo | ((1u << (6 * missing)) - 1);
    for (const CodeRange& r : c.ranges) {
      uint32_t a = std::max({r.lo, lo, min_cp}), b = std::min({r.hi, hi, 0x10FFFFu});
      for (uint32_t x = a; x <= b; ++x)
        if (!(x >= 0xD800 && x <= 0xDFFF)) {
          out.prefix = true;
          return;
        }
    }
  }

  // Elements from position p at offset i.
  Result seq(size_t p, size_t i) {
    const auto key = std::make_pair(p, i);
    if (auto it = seq_memo_.find(key); it != seq_memo_.end()) return it->second;
    Result out = seq_uncached(p, i);
    seq_memo_[key] = out;
    return out;
  }

  Result seq_uncached(size_t p, size_t i) {
    Result out;
    const Elem& e = g_.elems[p];
    if (e.kind == ElemKind::kEnd) {
      out.ends.insert(i);
      return out;
    }
    if (i == s_.size() && e.kind != ElemKind::kRuleRef && e.kind != ElemKind::kClassStar) {
      out.prefix = true;  // the next element can read something
      return out;
    }
    auto then = [&](size_t j) {
      Result r = seq(p + 1, j);
      out.ends.insert(r.ends.begin(), r.ends.end());
      out.prefix = out.prefix || r.prefix;
    };
    switch (e.kind) {
      case ElemKind::kByte:
        if (static_cast<uint8_t>(s_[i]) == e.value) then(i + 1);
        break;
      case ElemKind::kClass: {
        Result c;
        match_class(g_.classes[static_cast<size_t>(e.value)], i, c);
        out.prefix = c.prefix;
        for (size_t j : c.ends) then(j);
        break;
      }
      case ElemKind::kClassStar: {
        std::set<size_t> frontier{i}, seen{i};
        while (!frontier.empty()) {
          const size_t j = *frontier.begin();
          frontier.erase(frontier.begin());
          then(j);
          Result c;
          match_class(g_.classes[static_cast<size_t>(e.value)], j, c);
          out.prefix = out.prefix || c.prefix;
          for (size_t k : c.ends)
            if (seen.insert(k).second) frontier.insert(k);
        }
        break;
      }
      case ElemKind::kRuleRef: {
        const Result r = rule(e.value, i);
        out.prefix = r.prefix;
        for (size_t j : r.ends) then(j);
        break;
      }
      case ElemKind::kEnd:
        break;
    }
    return out;
  }

  Result rule(int32_t r, size_t i) {
    const auto key = std::make_pair(r, i);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    Result out;
    for (int32_t a : g_.alts[static_cast<size_t>(r)]) {
      Result x = seq(static_cast<size_t>(a), i);
      out.ends.insert(x.ends.begin(), x.ends.end());
      out.prefix = out.prefix || x.prefix;
    }
    memo_[key] = out;
    return out;
  }

  const Grammar& g_;
  std::string s_;
  std::map<std::pair<int32_t, size_t>, Result> memo_;
  std::map<std::pair<size_t, size_t>, Result> seq_memo_;
};

// ---- random grammars and vocabularies ----------------------------------------------------------

const std::vector<std::string> kChars = {
    "a", "b", "c", "{", "}", "\"", ",", " ", "1", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80"};

// References go to later rules only, or to the rule itself after a literal (no left
// recursion, and no wildly ambiguous recursion, which a stack-set matcher caps).
std::string random_atom(std::mt19937& rng, int depth, int rule, int num_rules) {
  std::uniform_int_distribution<int> kind(0, depth > 2 ? 2 : 5);
  auto pick = [&](const std::vector<std::string>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  switch (kind(rng)) {
    case 0: {  // literal of 1-3 characters
      std::string lit;
      const int n = std::uniform_int_distribution<int>(1, 3)(rng);
      for (int i = 0; i < n; ++i) lit += pick(kChars);
      return gbnf_literal(lit);
    }
    case 1: {
      const std::vector<std::string> classes = {
          "[a-c]", "[^\"]", "[\\u00e0-\\u4e2d]", "[ ,1]", "[^a-c\\u00e9]", ".", "[\\U0001F600]"};
      return pick(classes);
    }
    case 2:
      if (rule + 1 >= num_rules) return gbnf_literal(pick(kChars));
      return "r" + std::to_string(std::uniform_int_distribution<int>(rule + 1, num_rules - 1)(rng));
    case 3: {
      std::string inner = random_atom(rng, depth + 1, rule, num_rules) + " " +
                          random_atom(rng, depth + 1, rule, num_rules);
      return "(" + inner + " | " + random_atom(rng, depth + 1, rule, num_rules) + ")";
    }
    default: {
      const std::vector<std::string> reps = {"*", "+", "?", "{0,2}", "{2}", "{1,3}"};
      std::string a = random_atom(rng, depth + 1, rule, num_rules);
      return "(" + a + ")" + pick(reps);
    }
  }
}

std::string random_grammar(std::mt19937& rng) {
  const int num_rules = std::uniform_int_distribution<int>(1, 4)(rng);
  std::string g = "root ::= r0\n";
  for (int r = 0; r < num_rules; ++r) {
    g += "r" + std::to_string(r) + " ::= ";
    const int alts = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int a = 0; a < alts; ++a) {
      if (a > 0) g += " | ";
      const int n = std::uniform_int_distribution<int>(1, 3)(rng);
      // A leading literal keeps most grammars free of left recursion.
      if (r > 0 || a > 0) g += gbnf_literal(kChars[static_cast<size_t>(a + r) % 4]) + " ";
      for (int i = 0; i < n; ++i) g += random_atom(rng, 0, r, num_rules) + " ";
      if (a == 1 && r % 2 == 0) g += "r" + std::to_string(r) + " ";  // right recursion
    }
    g += "| \"!\"\n";  // every rule can finish
  }
  return g;
}

// Every single byte (so any text can be spelled), the characters split at every byte, and
// random strings of 2-6 characters (tokens spanning several terminals).
std::shared_ptr<const TokenVocab> random_vocab(std::mt19937& rng) {
  std::vector<std::string> pieces;
  pieces.emplace_back();  // 0: a control token (never allowed)
  pieces.emplace_back();  // 1: EOS
  for (int b = 1; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  for (const std::string& c : kChars)
    for (size_t k = 1; k < c.size(); ++k) {
      pieces.push_back(c.substr(0, k));
      pieces.push_back(c.substr(k));
    }
  std::uniform_int_distribution<size_t> ch(0, kChars.size() - 1);
  for (int i = 0; i < 150; ++i) {
    std::string t;
    const int n = std::uniform_int_distribution<int>(2, 6)(rng);
    for (int k = 0; k < n; ++k) t += kChars[ch(rng)];
    // Sometimes cut inside a character, either end.
    const int cut = std::uniform_int_distribution<int>(0, 5)(rng);
    if (cut == 0 && t.size() > 1) t.pop_back();
    if (cut == 1 && t.size() > 1) t.erase(0, 1);
    pieces.push_back(t);
  }
  pieces.push_back(pieces[40]);  // a duplicate piece under another id
  return TokenVocab::create(std::move(pieces), {1});
}

bool bit(const std::vector<uint64_t>& m, int32_t id) {
  return (m[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1;
}

TEST(Matcher, MaskEqualsOracleOnRandomGrammars) {
  int num_grammars = 0, num_checks = 0;
  for (uint32_t seed = 1; num_grammars < 30 && seed < 2000; ++seed) {
    std::mt19937 rng(seed);
    const std::string src = random_grammar(rng);
    auto g = parse_gbnf(src);
    if (!g.ok()) continue;  // left recursion and the like: the checks refuse them
    ++num_grammars;
    auto vocab = random_vocab(rng);
    auto cg = std::make_shared<CompiledGrammar>(*g, vocab);
    if (seed % 2) cg->precompute();  // either way gives the same masks
    Oracle oracle(**g);
    Matcher m(cg);
    std::string text;
    std::vector<uint64_t> mask(vocab->mask_words());
    for (int step = 0; step < 10; ++step) {
      m.fill_mask(mask);
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < vocab->size(); ++id) {
        bool expect;
        if (vocab->is_eos(id))
          expect = oracle.complete(text);
        else
          expect = !vocab->piece(id).empty() && oracle.prefix_ok(text + vocab->piece(id));
        ASSERT_EQ(bit(mask, id), expect) << "seed " << seed << " token " << id << " '"
                                         << vocab->piece(id) << "' after '" << text << "'\n"
                                         << src;
        ++num_checks;
        if (expect) allowed.push_back(id);
      }
      ASSERT_EQ(m.can_end(), oracle.complete(text)) << "seed " << seed;
      if (allowed.empty()) break;
      const int32_t id = allowed[std::uniform_int_distribution<size_t>(0, allowed.size() - 1)(rng)];
      ASSERT_TRUE(m.accept_token(id)) << "seed " << seed;
      if (vocab->is_eos(id)) {
        EXPECT_TRUE(m.is_terminated());
        break;
      }
      text += vocab->piece(id);
    }
  }
  EXPECT_GE(num_grammars, 30);
  EXPECT_GT(num_checks, 40000);
}

std::shared_ptr<CompiledGrammar> compile(const std::string& src,
                                         std::shared_ptr<const TokenVocab> vocab) {
  auto g = parse_gbnf(src);
  EXPECT_TRUE(g.ok()) << g.error().message;
  return std::make_shared<CompiledGrammar>(*g, std::move(vocab));
}

TEST(Matcher, TokensSpanningTerminalsAndSplitCharacters) {
  // Tokens: "{\"a", "\":1", "}", "\xE4", "\xB8\xAD", "\xE4\xB8", "\xAD}", EOS.
  auto vocab =
      TokenVocab::create({"{\"a", "\":1", "}", "\xE4", "\xB8\xAD", "\xE4\xB8", "\xAD}", ""}, {7});
  auto cg = compile("root ::= \"{\\\"a\\\":\" [0-9] \"}\" | \"\xE4\xB8\xAD}\"\n", vocab);
  Matcher m(cg);
  std::vector<uint64_t> mask(vocab->mask_words());
  m.fill_mask(mask);
  EXPECT_EQ(mask[0], 0b0101001u);  // "{\"a", "\xE4", "\xE4\xB8"
  ASSERT_TRUE(m.accept_token(0));
  m.fill_mask(mask);
  EXPECT_EQ(mask[0], 0b10u);
  ASSERT_TRUE(m.accept_token(1));
  EXPECT_FALSE(m.accept_token(7));  // not complete yet: no EOS
  ASSERT_TRUE(m.accept_token(2));
  m.fill_mask(mask);
  EXPECT_EQ(mask[0], 0b10000000u);  // only EOS
  EXPECT_TRUE(m.is_terminated());

  Matcher u(cg);  // a character split over three tokens' worth of bytes
  ASSERT_TRUE(u.accept_token(3));
  u.fill_mask(mask);
  EXPECT_EQ(mask[0], 0b10000u);  // "\xB8\xAD" only ("\xAD}" would skip a byte)
  ASSERT_TRUE(u.accept_token(4));
  ASSERT_TRUE(u.accept_token(2));
  EXPECT_TRUE(u.can_end());

  Matcher w(cg);
  ASSERT_TRUE(w.accept_token(5));
  ASSERT_TRUE(w.accept_token(6));  // finishes the character and the literal in one token
  EXPECT_TRUE(w.is_terminated());
}

TEST(Matcher, PartialCharactersOnlyWhereSomeCompletionFits) {
  // [\u00e0-\u00ff]: after \xC3 only \xA0-\xBF continue; \xC2 (U+0080-U+00BF) never fits.
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  auto vocab = TokenVocab::create(pieces, {});
  auto cg = compile("root ::= [\\u00e0-\\u00ff]\n", vocab);
  Matcher m(cg);
  std::vector<uint64_t> mask(vocab->mask_words());
  m.fill_mask(mask);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(bit(mask, b), b == 0xC3) << b;
  ASSERT_TRUE(m.accept_token(0xC3));
  m.fill_mask(mask);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(bit(mask, b), b >= 0xA0 && b <= 0xBF) << b;
  EXPECT_FALSE(m.accept_token(0x80));
  EXPECT_TRUE(m.accept_token(0xA9));
  EXPECT_TRUE(m.can_end());
}

TEST(Matcher, RejectedTokensLeaveTheStateUnchanged) {
  auto vocab = TokenVocab::create({"a", "b", "ab", ""}, {3});
  auto cg = compile("root ::= \"ab\"\n", vocab);
  Matcher m(cg);
  EXPECT_FALSE(m.accept_token(1));
  EXPECT_FALSE(m.accept_token(3));
  EXPECT_FALSE(m.accept_token(-1));
  EXPECT_FALSE(m.accept_token(99));
  ASSERT_TRUE(m.accept_token(0));
  EXPECT_FALSE(m.accept_token(2));
  ASSERT_TRUE(m.accept_token(1));
  EXPECT_TRUE(m.accept_token(3));
  EXPECT_FALSE(m.accept_token(0));  // nothing after the end
}

TEST(Matcher, SharedCompiledGrammarMemoizesStacks) {
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  pieces.push_back("\"}");
  pieces.push_back("ab\"");
  auto vocab = TokenVocab::create(pieces, {});
  auto cg = compile("root ::= \"{\" str \"}\"\nstr ::= \"\\\"\" [a-z]* \"\\\"\"\n", vocab);
  cg->precompute();
  const auto before = cg->stats();
  EXPECT_GT(before.num_positions, 0u);
  for (int run = 0; run < 2; ++run) {
    Matcher m(cg);
    std::vector<uint64_t> mask(vocab->mask_words());
    ASSERT_TRUE(m.accept_bytes("{\""));
    m.fill_mask(mask);
    EXPECT_TRUE(bit(mask, 256));  // "\"}" leaves the string rule and closes the object
    EXPECT_TRUE(bit(mask, 257));
    EXPECT_TRUE(bit(mask, 'q'));
    EXPECT_FALSE(bit(mask, '}'));
  }
  EXPECT_EQ(cg->stats().num_positions, before.num_positions);  // nothing walked again
  EXPECT_GE(cg->stats().num_stack_entries, 1u);
}

}  // namespace
}  // namespace sarathi::grammar
