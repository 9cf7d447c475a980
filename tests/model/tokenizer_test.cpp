// Unit tests for model/tokenizer and model/unicode on hand-built vocabularies: pre-tokenizer
// splits (expected pieces derived by hand from llama.cpp's regexes), SPM and BPE merging,
// special-token parsing, detokenization, read_vocab defaults and errors, the byte-level vocab
// and the incremental decoder.
#include "model/tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/unicode.h"

namespace sarathi::model {
namespace {

using unicode::PreTokenizer;
using Pieces = std::vector<std::string>;

Pieces split(std::string_view text, PreTokenizer kind) { return unicode::pre_tokenize(text, kind); }

std::unique_ptr<Tokenizer> make(VocabData v) {
  auto t = Tokenizer::create(std::move(v));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return t.ok() ? std::move(*t) : nullptr;
}

std::string lossy(std::string_view bytes) {
  std::string out;
  unicode::append_lossy_utf8(bytes, true, out);
  return out;
}

// ---- pre-tokenizers -------------------------------------------------------------------------

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
TEST(PreTokenizeGpt2, ContractionsAreLowercaseOnly) {
  // "'s" is a contraction; "'LL" is not (case-sensitive), so "'" is a lone [^\s\p{L}\p{N}]+ run
  // (it stops at the letter L) and "LL" a letter run.
  EXPECT_EQ(split("world's I'LL", PreTokenizer::kGpt2), (Pieces{"world", "'s", " I", "'", "LL"}));
  EXPECT_EQ(split("they're we've", PreTokenizer::kGpt2), (Pieces{"they", "'re", " we", "'ve"}));
}

TEST(PreTokenizeGpt2, DigitRunsAreUnbounded) {
  // ' ?\p{N}+' takes the whole run with its leading space; '.' is its own symbol run.
  EXPECT_EQ(split("pi 3.14159 x12345", PreTokenizer::kGpt2),
            (Pieces{"pi", " 3", ".", "14159", " x", "12345"}));
}

TEST(PreTokenizeGpt2, WhitespaceRuns) {
  // '\s+(?!\S)' stops one short of a word so the last space joins it (" b"); at the end of
  // the text the whole run is taken. "\n\n" before a letter: the first "\n" is \s+(?!\S), the
  // second matches nothing but whitespace and stands alone.
  EXPECT_EQ(split("a   b  ", PreTokenizer::kGpt2), (Pieces{"a", "  ", " b", "  "}));
  EXPECT_EQ(split("a\n\nb", PreTokenizer::kGpt2), (Pieces{"a", "\n", "\n", "b"}));
  // A tab is not the optional ' ', so "\t" and "word" are separate.
  EXPECT_EQ(split("\tword", PreTokenizer::kGpt2), (Pieces{"\t", "word"}));
}

TEST(PreTokenizeGpt2, CjkAndEmoji) {
  // CJK ideographs are \p{L} (Lo); emoji are \p{S}, so " 🙂🚀!" is one ' ?[^\s\p{L}\p{N}]+'
  // run.
  EXPECT_EQ(split("日本語 🙂🚀! Привет", PreTokenizer::kGpt2),
            (Pieces{"日本語", " 🙂🚀!", " Привет"}));
}

// Llama-3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
TEST(PreTokenizeLlama3, ContractionsAnyCase) {
  EXPECT_EQ(split("I'LL don't SHE'S", PreTokenizer::kLlama3),
            (Pieces{"I", "'LL", " don", "'t", " SHE", "'S"}));
}

TEST(PreTokenizeLlama3, DigitsInGroupsOfThree) {
  // \p{N}{1,3} from the left; '$' cannot prefix digits (only letters), so it stands alone.
  EXPECT_EQ(split("12345 $1000000", PreTokenizer::kLlama3),
            (Pieces{"123", "45", " $", "100", "000", "0"}));
}

TEST(PreTokenizeLlama3, AnyNonLetterPrefixesAWord) {
  // [^\r\n\p{L}\p{N}]? takes one tab, quote or space in front of letters, but not a newline.
  EXPECT_EQ(split("\tword \"quoted\nline", PreTokenizer::kLlama3),
            (Pieces{"\tword", " \"", "quoted", "\n", "line"}));
}

TEST(PreTokenizeLlama3, NewlinesAndSpaceRuns) {
  // \s*[\r\n]+ takes the spaces and newlines up to the last newline of a whitespace run; the
  // two spaces after it are \s+(?!\S) (one) and then " b".
  EXPECT_EQ(split("a  \n\n  b", PreTokenizer::kLlama3), (Pieces{"a", "  \n\n", " ", " b"}));
  // Punctuation swallows the newlines after it: ' ?[^\s\p{L}\p{N}]+[\r\n]*'.
  EXPECT_EQ(split("hi!!\n\nyo", PreTokenizer::kLlama3), (Pieces{"hi", "!!\n\n", "yo"}));
  EXPECT_EQ(split("end   ", PreTokenizer::kLlama3), (Pieces{"end", "   "}));
}

TEST(PreTokenizeLlama3, CjkAndEmoji) {
  EXPECT_EQ(split("日本語123 🙂🚀", PreTokenizer::kLlama3),
            (Pieces{"日本語", "123", " 🙂🚀"}));
}

// Qwen2: the Llama-3 expression with \p{N} instead of \p{N}{1,3}.
TEST(PreTokenizeQwen2, SingleDigits) {
  EXPECT_EQ(split("x2025y 12", PreTokenizer::kQwen2),
            (Pieces{"x", "2", "0", "2", "5", "y", " ", "1", "2"}));
  // A space before digits is neither a word prefix nor punctuation: alone, via \s+.
  EXPECT_EQ(split("I'M 7", PreTokenizer::kQwen2), (Pieces{"I", "'M", " ", "7"}));
}

TEST(PreTokenizeDefault, FourPasses) {
  // Punctuation runs split out first, then the GPT-2 expression, then \p{N}+ peels digits off
  // " 12345", then [0-9][0-9][0-9] cuts "12345" into "123" and "45".
  EXPECT_EQ(split("Hello, world 12345!", PreTokenizer::kDefault),
            (Pieces{"Hello", ",", " world", " ", "123", "45", "!"}));
}

TEST(PreTokenize, InvalidUtf8BecomesReplacementChar) {
  EXPECT_EQ(split("a\xFFz", PreTokenizer::kGpt2), (Pieces{"a", "\uFFFD", "z"}));
  EXPECT_TRUE(split("", PreTokenizer::kLlama3).empty());
}

// ---- SPM ----------------------------------------------------------------------------------

VocabData spm_vocab(std::vector<std::pair<std::string, float>> pieces) {
  VocabData v = {};
  v.kind = VocabKind::kSpm;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.scores = {0, 0, 0};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (auto& [text, score] : pieces) {
    v.tokens.push_back(text);
    v.scores.push_back(score);
    v.types.push_back(TokenType::kNormal);
  }
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  return v;
}

TEST(SpmTokenizer, HighestScoreMergesFirstTiesGoLeft) {
  // ids: a=3 b=4 c=5 ab=6 bc=7
  VocabData tie = spm_vocab({{"a", -5}, {"b", -5}, {"c", -5}, {"ab", -1}, {"bc", -1}});
  tie.add_space_prefix = false;
  auto t = make(tie);
  EXPECT_EQ(t->encode("abc", false, false), (std::vector<TokenId>{6, 5}));  // tie: leftmost
  VocabData right = spm_vocab({{"a", -5}, {"b", -5}, {"c", -5}, {"ab", -1}, {"bc", -0.5f}});
  right.add_space_prefix = false;
  EXPECT_EQ(make(right)->encode("abc", false, false), (std::vector<TokenId>{3, 7}));
}

TEST(SpmTokenizer, DummyPrefixAndUnknown) {
  // ids: ▁=3 h=4 i=5 ▁h=6 ▁hi=7
  auto t = make(spm_vocab(
      {{"\xE2\x96\x81", -1}, {"h", -2}, {"i", -2}, {"\xE2\x96\x81h", -1}, {"\xE2\x96\x81hi", -1}}));
  EXPECT_EQ(t->encode("hi", true, false), (std::vector<TokenId>{1, 7}));
  EXPECT_EQ(t->encode("hi hi", false, false), (std::vector<TokenId>{7, 7}));
  // No byte tokens: an unknown character becomes <unk>, once per byte.
  EXPECT_EQ(t->encode("\xC3\xA9", false, false), (std::vector<TokenId>{3, 0, 0}));
  EXPECT_EQ(t->decode(std::vector<TokenId>{1, 7, 7}, false, false), " hi hi");
  EXPECT_EQ(t->decode(std::vector<TokenId>{7, 7}, false, false), "hi hi");  // first space dropped
  EXPECT_EQ(t->decode(std::vector<TokenId>{1, 7}, true, false), " hi");
  EXPECT_EQ(t->decode(std::vector<TokenId>{1, 7, 2}, false, true), "<s> hi</s>");
  EXPECT_EQ(t->decode(std::vector<TokenId>{1, 7, 2}, true, true), " hi</s>");  // no add_eos
}

// ---- special tokens -------------------------------------------------------------------------

TEST(SpecialTokens, ParseSpecialOnAndOff) {
  auto t = make(byte_level_vocab(300));
  auto b = [](char c) { return TokenId{3} + static_cast<uint8_t>(c); };
  // On: "</s>" is the control token; the text after it gets the dummy-prefix space again.
  EXPECT_EQ(t->encode("a</s>b", true, true),
            (std::vector<TokenId>{1, b(' '), b('a'), 2, b(' '), b('b')}));
  // <unk> is also matched (llama.cpp caches unknown tokens with the special ones).
  EXPECT_EQ(t->encode("<unk>", false, true), (std::vector<TokenId>{0}));
  // Off: control and unknown texts are plain bytes.
  std::vector<TokenId> off = t->encode("a</s>", false, false);
  EXPECT_EQ(off.size(), 6u);
  EXPECT_EQ(off[2], b('<'));
}

TEST(SpecialTokens, UserDefinedAlwaysSplitLongestFirst) {
  VocabData v = byte_level_vocab(300);
  v.tokens[259] = "<|x|>";
  v.types[259] = TokenType::kUserDefined;
  v.tokens[260] = "<|x|>y";
  v.types[260] = TokenType::kUserDefined;
  auto t = make(v);
  // Longest first: "<|x|>y" wins over "<|x|>" even with parse_special off.
  EXPECT_EQ(t->encode("<|x|>y<|x|>", false, false), (std::vector<TokenId>{260, 259}));
  // Text after a special token gets the dummy-prefix space.
  EXPECT_EQ(t->encode("<|x|>a", false, false), (std::vector<TokenId>{259, 3 + ' ', 3 + 'a'}));
  EXPECT_EQ(t->token_to_piece(259, false), "<|x|>");  // user-defined pieces always render
  EXPECT_EQ(t->token_to_piece(2, false), "");         // control pieces only when special
  EXPECT_EQ(t->token_to_piece(2, true), "</s>");
  EXPECT_EQ(t->token_to_piece(300, true), "");  // out of range
  EXPECT_EQ(t->token_to_piece(262, true), "");  // unused filler
}

TEST(SpecialTokens, EndOfGenerationByText) {
  VocabData v = byte_level_vocab(300);
  v.tokens[259] = "<|im_end|>";  // normal type in the file: llama.cpp forces it to control
  v.types[259] = TokenType::kNormal;
  v.tokens[260] = "<|fim_pad|>";  // FIM pad also ends generation
  auto t = make(v);
  EXPECT_TRUE(t->is_eog(2));
  EXPECT_TRUE(t->is_eog(259));
  EXPECT_TRUE(t->is_control(259));
  EXPECT_TRUE(t->is_eog(260));
  EXPECT_EQ(t->vocab().eot_id, 259);
  EXPECT_FALSE(t->is_eog(1));
  EXPECT_FALSE(t->is_eog(-1));
}

// ---- BPE ----------------------------------------------------------------------------------

VocabData bpe_vocab(std::string pre) {
  VocabData v = {};
  v.kind = VocabKind::kBpe;
  v.pre = std::move(pre);
  // ids: a=0 b=1 c=2 ab=3 abc=4 Ġ=5 Ġab=6 ,=7 Ġ,=8 '=9 s=10 Ġ'=11 xyz=12 <|endoftext|>=13
  const std::string g = "Ġ";  // the byte-level symbol for a space
  v.tokens = {"a", "b",     "c", "ab", "abc",   g,     g + "ab",
              ",", g + ",", "'", "s",  g + "'", "xyz", "<|endoftext|>"};
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  v.types[13] = TokenType::kControl;
  v.merges = {"a b", "ab c", g + " ab", g + " ,", g + " '"};
  v.bos_id = v.eos_id = 13;
  v.add_bos = false;
  v.add_space_prefix = false;
  return v;
}

TEST(BpeTokenizer, MergesByRank) {
  auto t = make(bpe_vocab("gpt-2"));
  EXPECT_EQ(t->encode("abc", true, true), (std::vector<TokenId>{4}));
  EXPECT_EQ(t->encode("cab ab", true, true), (std::vector<TokenId>{2, 3, 6}));
  // "z" is no token and its byte is none either: llama.cpp drops it.
  EXPECT_EQ(t->encode("az", false, false), (std::vector<TokenId>{0}));
  EXPECT_EQ(t->encode("<|endoftext|>a", false, true), (std::vector<TokenId>{13, 0}));
  EXPECT_EQ(t->decode(std::vector<TokenId>{2, 3, 6}, false, false), "cab ab");
}

TEST(BpeTokenizer, IgnoreMergesForLlama3) {
  // "xyz" has no merge path: Llama-3 (ignore_merges) emits the whole word, dbrx (same
  // expression, no ignore_merges) falls back to bytes, which are not tokens here.
  EXPECT_EQ(make(bpe_vocab("llama-bpe"))->encode("xyz", false, false), (std::vector<TokenId>{12}));
  EXPECT_TRUE(make(bpe_vocab("dbrx"))->encode("xyz", false, false).empty());
}

TEST(BpeTokenizer, CleanUpSpaces) {
  // Pieces "a" " ," " '" "s": gpt-2 removes the space before ',' and before "'s".
  const std::vector<TokenId> ids = {0, 8, 11, 10};
  EXPECT_EQ(make(bpe_vocab("gpt-2"))->decode(ids, false, false), "a,'s");
  EXPECT_EQ(make(bpe_vocab("qwen2"))->decode(ids, false, false), "a , 's");  // no clean-up
}

TEST(BpeTokenizer, UnsupportedPre) {
  auto t = Tokenizer::create(bpe_vocab("falcon"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, core::ErrorCode::kUnsupported);
  EXPECT_NE(t.error().message.find("tokenizer.ggml.pre"), std::string::npos);
}

TEST(BpeTokenizer, ByteSymbolsRoundTrip) {
  for (int b = 0; b < 256; ++b) {
    const std::string& sym = unicode::byte_to_symbol(static_cast<uint8_t>(b));
    const std::vector<uint32_t> cpts = unicode::decode_utf8(sym);
    ASSERT_EQ(cpts.size(), 1u);
    EXPECT_EQ(unicode::symbol_to_byte(cpts[0]), b);
  }
  EXPECT_EQ(unicode::byte_to_symbol(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(unicode::byte_to_symbol('\n'), "\xC4\x8A");  // Ċ
}

TEST(Tokenizer, ArbitraryInputIsSafe) {
  std::vector<std::unique_ptr<Tokenizer>> toks;
  toks.push_back(make(byte_level_vocab(300)));
  toks.push_back(make(spm_vocab({{"▁", -1}, {"a", -2}, {"▁a", -1}})));
  for (const char* pre : {"gpt-2", "llama-bpe", "qwen2", "default"})
    toks.push_back(make(bpe_vocab(pre)));
  std::mt19937 rng(7);
  for (const auto& t : toks) {
    for (int trial = 0; trial < 100; ++trial) {
      std::string text(rng() % 32, '\0');
      for (char& c : text) c = static_cast<char>(rng() % 4 == 0 ? '<' : rng() & 0xFF);
      const std::vector<TokenId> ids = t->encode(text, true, true);
      for (TokenId id : ids) EXPECT_TRUE(id >= 0 && id < t->n_vocab());
      std::vector<TokenId> junk = ids;
      junk.push_back(-5);
      junk.push_back(t->n_vocab() + 3);
      (void)t->decode(junk, trial % 2 == 0, trial % 3 == 0);
      IncrementalDecoder d(*t, trial % 2 == 0);
      for (TokenId id : junk) (void)d.push(id);
      (void)d.flush();
    }
  }
}

// ---- read_vocab -----------------------------------------------------------------------------

struct FileVocab {
  std::vector<uint8_t> bytes;
  std::unique_ptr<GgufFile> file;
};

std::unique_ptr<FileVocab> parse(const GgufWriter& w) {
  auto f = std::make_unique<FileVocab>();
  f->bytes = w.to_bytes();
  auto file = GgufFile::parse(f->bytes, "test.gguf");
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().to_string());
  f->file = std::move(*file);
  return f;
}

GgufWriter spm_writer() {
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "▁a"});
  w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1});
  w.set_u32("tokenizer.ggml.padding_token_id", 4294967295u);
  return w;
}

TEST(ReadVocab, SpmDefaults) {
  auto f = parse(spm_writer());
  auto v = read_vocab(*f->file);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->kind, VocabKind::kSpm);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_EQ(v->unk_id, 0);
  EXPECT_EQ(v->pad_id, -1);
  EXPECT_TRUE(v->add_bos);
  EXPECT_FALSE(v->add_eos);
  EXPECT_TRUE(v->add_space_prefix);
  EXPECT_EQ(v->types[3], TokenType::kNormal);
  auto t = Tokenizer::create(*v);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->encode("a", true, true), (std::vector<TokenId>{1, 3}));
}

TEST(ReadVocab, KeysOverrideDefaults) {
  GgufWriter w = spm_writer();
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_bool("tokenizer.ggml.add_eos_token", true);
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  w.set_u32("tokenizer.ggml.eos_token_id", 3);
  auto f = parse(w);
  auto v = read_vocab(*f->file);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_FALSE(v->add_bos);
  EXPECT_TRUE(v->add_eos);
  EXPECT_FALSE(v->add_space_prefix);
  EXPECT_EQ(v->eos_id, 3);
}

TEST(ReadVocab, UnsetIdKeepsTheDefault) {
  // llama.cpp treats 4294967295 like an absent key: pad stays unset, SPM's EOS stays 2.
  GgufWriter w = spm_writer();
  w.set_u32("tokenizer.ggml.eos_token_id", 4294967295u);
  w.set_u32("tokenizer.ggml.eot_token_id", 4294967295u);
  auto f = parse(w);
  auto v = read_vocab(*f->file);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_EQ(v->eot_id, -1);
  EXPECT_EQ(v->pad_id, -1);
}

TEST(ReadVocab, ErrorsNameTheKey) {
  GgufWriter bad_id = spm_writer();
  bad_id.set_u32("tokenizer.ggml.bos_token_id", 7);
  auto f1 = parse(bad_id);
  auto v1 = read_vocab(*f1->file);
  ASSERT_FALSE(v1.ok());
  EXPECT_NE(v1.error().message.find("tokenizer.ggml.bos_token_id"), std::string::npos);

  GgufWriter bert = spm_writer();
  bert.set_string("tokenizer.ggml.model", "bert");
  auto f2 = parse(bert);
  auto v2 = read_vocab(*f2->file);
  ASSERT_FALSE(v2.ok());
  EXPECT_EQ(v2.error().code, core::ErrorCode::kUnsupported);
  EXPECT_NE(v2.error().message.find("tokenizer.ggml.model"), std::string::npos);

  GgufWriter short_scores = spm_writer();
  short_scores.set_f32_array("tokenizer.ggml.scores", {0, 0});
  auto f3 = parse(short_scores);
  auto v3 = read_vocab(*f3->file);
  ASSERT_FALSE(v3.ok());
  EXPECT_NE(v3.error().message.find("tokenizer.ggml.scores"), std::string::npos);

  GgufWriter no_merges;
  no_merges.set_string("tokenizer.ggml.model", "gpt2");
  no_merges.set_string("tokenizer.ggml.pre", "gpt-2");
  no_merges.set_string_array("tokenizer.ggml.tokens", {"a", "b"});
  auto f4 = parse(no_merges);
  auto v4 = read_vocab(*f4->file);
  ASSERT_FALSE(v4.ok());
  EXPECT_NE(v4.error().message.find("tokenizer.ggml.merges"), std::string::npos);
}

TEST(ReadVocab, BpeAddBosDependsOnPre) {
  for (const auto& [pre, add_bos] : std::vector<std::pair<std::string, bool>>{
           {"gpt-2", false}, {"llama-bpe", true}, {"qwen2", false}}) {
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", pre);
    w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
    w.set_string_array("tokenizer.ggml.merges", {"a b"});
    w.set_u32("tokenizer.ggml.bos_token_id", 2);
    auto f = parse(w);
    auto v = read_vocab(*f->file);
    ASSERT_TRUE(v.ok()) << v.error().to_string();
    EXPECT_EQ(v->add_bos, add_bos) << pre;
    EXPECT_FALSE(v->add_space_prefix);
    EXPECT_EQ(v->unk_id, -1);
  }
}

// ---- byte-level vocabulary and streaming ------------------------------------------------------

TEST(ByteLevelVocab, Layout) {
  const VocabData v = byte_level_vocab(300);
  ASSERT_EQ(v.tokens.size(), 300u);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.types[0], TokenType::kUnknown);
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.types[2], TokenType::kControl);
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.tokens[258], "<0xFF>");
  EXPECT_EQ(v.types[258], TokenType::kByte);
  EXPECT_EQ(v.types[299], TokenType::kUnused);
  EXPECT_EQ(v.kind, VocabKind::kSpm);
  EXPECT_TRUE(v.add_bos);
}

TEST(ByteLevelVocab, RoundTripsArbitraryBytes) {
  auto t = make(byte_level_vocab(512));
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 50; ++trial) {
    std::string text(1 + static_cast<size_t>(rng() % 40), '\0');
    for (char& c : text) c = static_cast<char>(rng() & 0xFF);
    if (trial == 0) text = "caf\xC3\xA9 \xFF\xFE \xE2\x82 ok";  // invalid UTF-8 included
    SCOPED_TRACE("trial " + std::to_string(trial));
    const std::vector<TokenId> ids = t->encode(text, true, false);
    ASSERT_EQ(ids.size(), text.size() + 2);  // BOS, the dummy-prefix space, one per byte
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(ids[1], 3 + ' ');
    for (size_t i = 0; i < text.size(); ++i)
      EXPECT_EQ(ids[i + 2], 3 + static_cast<uint8_t>(text[i]));
    EXPECT_EQ(t->decode(ids, true, false), " " + text);
    EXPECT_EQ(t->decode(ids, false, false), " " + text);
  }
}

TEST(IncrementalDecoder, HoldsSplitSequences) {
  auto t = make(byte_level_vocab(300));
  auto byte = [](uint8_t b) { return TokenId{3} + b; };
  IncrementalDecoder d(*t);
  EXPECT_EQ(d.push(byte('h')), "h");
  // U+1F642 🙂 = F0 9F 99 82, fed one byte at a time.
  EXPECT_EQ(d.push(byte(0xF0)), "");
  EXPECT_EQ(d.push(byte(0x9F)), "");
  EXPECT_EQ(d.push(byte(0x99)), "");
  EXPECT_EQ(d.push(byte(0x82)), "\xF0\x9F\x99\x82");
  EXPECT_EQ(d.push(1), "");  // control token, not rendered
  // A sequence cut short by an ASCII byte becomes one U+FFFD as soon as that is known.
  EXPECT_EQ(d.push(byte(0xE2)), "");
  EXPECT_EQ(d.push(byte('x')), "\uFFFDx");
  EXPECT_EQ(d.push(byte(0xFF)), "\uFFFD");  // never valid
  EXPECT_EQ(d.push(byte(0xC3)), "");
  EXPECT_EQ(d.flush(), "\uFFFD");  // left over at the end
  EXPECT_EQ(d.flush(), "");
}

TEST(IncrementalDecoder, RandomBytesMatchLossyDecode) {
  auto t = make(byte_level_vocab(300));
  std::mt19937 rng(99);
  const std::string valid = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x99\x82";
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes;
    const size_t n = rng() % 24;
    for (size_t i = 0; i < n; ++i)
      bytes.push_back(rng() % 3 == 0 ? static_cast<char>(rng() & 0xFF)
                                     : valid[rng() % valid.size()]);
    IncrementalDecoder d(*t);
    std::string out;
    for (char c : bytes) {
      const std::string part = d.push(TokenId{3} + static_cast<uint8_t>(c));
      EXPECT_EQ(lossy(part), part) << "emitted broken UTF-8";
      out += part;
    }
    out += d.flush();
    EXPECT_EQ(out, lossy(bytes));
  }
}

TEST(LossyUtf8, MaximalSubparts) {
  // Python: b"\xf0\x9f\x99Z\xed\xa0\x80\xc0".decode("utf-8", "replace") gives
  // "\ufffdZ\ufffd\ufffd\ufffd\ufffd": a truncated sequence is one U+FFFD; ED A0 starts a
  // surrogate, so ED, A0 and 80 are replaced separately, and C0 is never valid.
  const std::string r = "\uFFFD";
  EXPECT_EQ(lossy("\xF0\x9F\x99Z\xED\xA0\x80\xC0"), r + "Z" + r + r + r + r);
}

}  // namespace
}  // namespace sarathi::model
