// Golden tokenizer tests: every tokenization and generation case that llama.cpp (c392e50)
// recorded in ../shared/golden for the three shared vocabularies must be reproduced exactly.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/unicode.h"
#include "tests/test_util.h"

namespace sarathi::model {
namespace {

using nlohmann::json;

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// Bytes decoded as UTF-8 with invalid sequences replaced (Python's errors="replace").
std::string lossy(std::string_view bytes) {
  std::string out;
  unicode::append_lossy_utf8(bytes, /*final=*/true, out);
  return out;
}

std::vector<TokenId> ids_of(const json& array) { return array.get<std::vector<TokenId>>(); }

struct Golden {
  json doc;
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
};

// Loads golden/<stem>.json and the tokenizer of models/<stem>.gguf.
std::unique_ptr<Golden> load(const std::string& golden_path, const std::string& stem) {
  auto g = std::make_unique<Golden>();
  g->doc = json::parse(testing::read_file(golden_path));
  const std::optional<std::string> model_path = testing::shared_model(stem + ".gguf");
  if (!model_path) return nullptr;
  auto file = GgufFile::open(*model_path);
  if (!file.ok()) {
    ADD_FAILURE() << file.error().to_string();
    return nullptr;
  }
  g->file = std::move(*file);
  auto tok = Tokenizer::from_gguf(*g->file);
  if (!tok.ok()) {
    ADD_FAILURE() << tok.error().to_string();
    return nullptr;
  }
  g->tok = std::move(*tok);
  return g;
}

void check_model_fields(const Golden& g) {
  const json& m = g.doc["model"];
  EXPECT_EQ(g.tok->n_vocab(), m["n_vocab"].get<int32_t>());
  EXPECT_EQ(g.tok->bos_id(), m["bos_id"].get<TokenId>());
  EXPECT_EQ(g.tok->eos_id(), m["eos_id"].get<TokenId>());
  EXPECT_EQ(g.tok->add_bos(), m["add_bos"].get<bool>());
}

void check_tokenization(const Golden& g) {
  const Tokenizer& tok = *g.tok;
  ASSERT_FALSE(g.doc.at("tokenization").empty());
  for (const json& c : g.doc.at("tokenization")) {
    SCOPED_TRACE("tokenization case " + c["name"].get<std::string>());
    const std::string text = c["text"].get<std::string>();
    const std::vector<TokenId> ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/true);
    EXPECT_EQ(ids, ids_of(c["ids"]));
    EXPECT_EQ(tok.decode(ids, false, false), c["detokenized"].get<std::string>());
    EXPECT_EQ(tok.decode(ids, false, true), c["detokenized_special"].get<std::string>());
    EXPECT_EQ(tok.decode(ids, true, false), c["detokenized_remove_special"].get<std::string>());
    const auto& pieces = c["pieces_hex"];
    ASSERT_EQ(pieces.size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      EXPECT_EQ(to_hex(tok.token_to_piece(ids[i], true)), pieces[i].get<std::string>())
          << "token " << i << " id " << ids[i];
  }
}

void check_generation(const Golden& g) {
  const Tokenizer& tok = *g.tok;
  if (g.doc["model"]["vocab_only"].get<bool>()) {
    EXPECT_FALSE(g.doc.contains("generation"));
    return;
  }
  ASSERT_FALSE(g.doc.at("generation").empty());
  for (const json& c : g.doc.at("generation")) {
    SCOPED_TRACE("generation case " + c["name"].get<std::string>());
    EXPECT_EQ(tok.encode(c["prompt"].get<std::string>(), true, true), ids_of(c["prompt_ids"]));
    const std::vector<TokenId> gen = ids_of(c["generated_ids"]);
    std::string bytes;
    IncrementalDecoder stream(tok);
    std::string streamed;
    std::optional<size_t> first_eog;
    for (size_t i = 0; i < gen.size(); ++i) {
      bytes += tok.token_to_piece(gen[i], false);
      streamed += stream.push(gen[i]);
      EXPECT_EQ(to_hex(tok.token_to_piece(gen[i], true)),
                c["generated_pieces_hex"][i].get<std::string>());
      if (!first_eog && tok.is_eog(gen[i])) first_eog = i;
    }
    streamed += stream.flush();
    EXPECT_EQ(to_hex(bytes), c["generated_text_hex"].get<std::string>());
    EXPECT_EQ(streamed, c["generated_text"].get<std::string>());
    EXPECT_EQ(lossy(bytes), c["generated_text"].get<std::string>());
    if (c["first_eog_index"].is_null()) {
      EXPECT_FALSE(first_eog.has_value());
    } else {
      EXPECT_EQ(first_eog, c["first_eog_index"].get<size_t>());
    }
    std::vector<TokenId> all = ids_of(c["prompt_ids"]);
    all.insert(all.end(), gen.begin(), gen.end());
    EXPECT_EQ(lossy(tok.decode(all, false, false)), c["full_detokenized"].get<std::string>());
  }
  for (const json& c : g.doc.at("logits")) {
    SCOPED_TRACE("logits case " + c["name"].get<std::string>());
    EXPECT_EQ(tok.encode(c["prompt"].get<std::string>(), true, true), ids_of(c["prompt_ids"]));
  }
}

void run_golden(const std::string& stem, const std::string& golden_path) {
  std::unique_ptr<Golden> g = load(golden_path, stem);
  ASSERT_NE(g, nullptr);
  check_model_fields(*g);
  check_tokenization(*g);
  check_generation(*g);
}

TEST(TokenizerGolden, Stories260K) {
  SARATHI_REQUIRE_SHARED(path, testing::shared_golden("stories260K.json"));
  run_golden("stories260K", path);
}

TEST(TokenizerGolden, Llama2TinyRandom) {
  SARATHI_REQUIRE_SHARED(path, testing::shared_golden("llama-2-tiny-random.json"));
  run_golden("llama-2-tiny-random", path);
}

TEST(TokenizerGolden, Gpt2VocabOnly) {
  SARATHI_REQUIRE_SHARED(path, testing::shared_golden("ggml-vocab-gpt-2.json"));
  run_golden("ggml-vocab-gpt-2", path);
}

}  // namespace
}  // namespace sarathi::model
