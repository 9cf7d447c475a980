// The JSON Schema, regex and choice compilers. Property tests: text generated under random
// schemas parses and validates (a small validator for the supported keywords, written here
// from the JSON Schema spec); random regexes accept exactly what std::regex_match accepts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/regex.h"
#include "tests/grammar/json_schema_testing.h"

namespace sarathi::grammar {
namespace {

using testing::random_schema;
using testing::valid;

using Json = nlohmann::ordered_json;

std::shared_ptr<const TokenVocab> byte_vocab() {
  static const auto v = [] {
    std::vector<std::string> pieces;
    for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
    pieces.emplace_back();  // 256: EOS
    return TokenVocab::create(std::move(pieces), {256});
  }();
  return v;
}

std::shared_ptr<CompiledGrammar> compile(const std::string& gbnf) {
  auto g = parse_gbnf(gbnf);
  EXPECT_TRUE(g.ok()) << g.error().message << "\n" << gbnf;
  if (!g.ok()) return nullptr;
  return std::make_shared<CompiledGrammar>(*g, byte_vocab());
}

bool accepts(const std::shared_ptr<CompiledGrammar>& cg, std::string_view text) {
  Matcher m(cg);
  return m.accept_bytes(text) && m.can_end();
}

std::shared_ptr<CompiledGrammar> schema_grammar(const Json& schema) {
  auto gbnf = json_schema_to_gbnf(schema);
  EXPECT_TRUE(gbnf.ok()) << gbnf.error().message;
  return gbnf.ok() ? compile(*gbnf) : nullptr;
}

std::string schema_error(const Json& schema) {
  auto gbnf = json_schema_to_gbnf(schema);
  return gbnf.ok() ? "(compiled)" : gbnf.error().message;
}

// Random text from the grammar: a uniformly random allowed byte, except that an open string or
// an allowed end is taken often so that outputs stay short.
std::optional<std::string> generate(const std::shared_ptr<CompiledGrammar>& cg, std::mt19937& rng) {
  Matcher m(cg);
  std::vector<uint64_t> mask(byte_vocab()->mask_words());
  std::string out;
  for (int step = 0; step < 4000; ++step) {
    m.fill_mask(mask);
    std::vector<int32_t> allowed;
    for (int32_t id = 0; id <= 256; ++id)
      if ((mask[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1) allowed.push_back(id);
    if (allowed.empty()) return std::nullopt;
    int32_t id = allowed[std::uniform_int_distribution<size_t>(0, allowed.size() - 1)(rng)];
    const bool can_end = std::count(allowed.begin(), allowed.end(), 256) > 0;
    const bool can_quote = std::count(allowed.begin(), allowed.end(), '"') > 0;
    if (can_end && std::uniform_int_distribution<int>(0, 1)(rng))
      id = 256;
    else if (can_quote && allowed.size() > 60 && std::uniform_int_distribution<int>(0, 3)(rng) == 0)
      id = '"';
    EXPECT_TRUE(m.accept_token(id));
    if (id == 256) return out;
    out += static_cast<char>(id);
  }
  return std::nullopt;
}

TEST(JsonSchema, RandomSchemasGenerateValidInstances) {
  int num_outputs = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    Json defs = Json::object();
    Json schema = random_schema(rng, 0, defs);
    if (!defs.empty()) schema["$defs"] = defs;
    auto cg = schema_grammar(schema);
    ASSERT_TRUE(cg) << schema.dump();
    for (int k = 0; k < 3; ++k) {
      auto text = generate(cg, rng);
      ASSERT_TRUE(text) << "seed " << seed << ": no end within 4000 bytes\n" << schema.dump();
      Json x;
      try {
        x = Json::parse(*text);
      } catch (const Json::exception& e) {
        FAIL() << "seed " << seed << ": '" << *text << "' does not parse: " << e.what() << "\n"
               << schema.dump();
      }
      EXPECT_TRUE(valid(x, schema, schema))
          << "seed " << seed << ": " << *text << "\nagainst " << schema.dump();
      ++num_outputs;
    }
  }
  EXPECT_EQ(num_outputs, 180);
}

TEST(JsonSchema, ObjectsKeepOrderRequiredAndOptional) {
  auto cg = schema_grammar(Json::parse(R"({"type": "object", "properties": {
      "name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array",
      "items": {"type": "string"}, "maxItems": 2}}, "required": ["age"]})"));
  EXPECT_TRUE(accepts(cg, R"({"age":3})"));
  EXPECT_TRUE(accepts(cg, R"({"name": "x", "age": -12, "tags": ["a", "b"]})"));
  EXPECT_TRUE(accepts(cg, R"({"age":0,"tags":[]})"));
  EXPECT_FALSE(accepts(cg, R"({"name":"x"})"));                    // age is required
  EXPECT_FALSE(accepts(cg, R"({"age":3,"name":"x"})"));            // schema order
  EXPECT_FALSE(accepts(cg, R"({"age":3,"tags":["a","b","c"]})"));  // maxItems
  EXPECT_FALSE(accepts(cg, R"({"age":3,"x":1})"));                 // no additional properties
  EXPECT_FALSE(accepts(cg, R"({"age":03})"));
  EXPECT_FALSE(accepts(cg, R"({"age":3.5})"));
  EXPECT_FALSE(accepts(cg, R"({"age":3} )"));
}

TEST(JsonSchema, RefsDefsRecursionAnyOfFormats) {
  auto cg = schema_grammar(Json::parse(R"({"$defs": {"node": {"type": "object", "properties": {
      "v": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
      "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}},
      "$ref": "#/$defs/node"})"));
  EXPECT_TRUE(accepts(cg, R"({"v":1,"kids":[{"v":null},{"v":2,"kids":[]}]})"));
  EXPECT_FALSE(accepts(cg, R"({"v":1,"kids":[{"kids":[]}]})"));
  auto dates = schema_grammar(Json::parse(R"({"type": "array", "prefixItems": [
      {"type": "string", "format": "date"}, {"type": "string", "format": "uuid"}], "items": false})"));
  EXPECT_TRUE(accepts(dates, R"(["2024-02-29", "123e4567-e89b-12d3-a456-426614174000"])"));
  EXPECT_FALSE(accepts(dates, R"(["2024-13-01", "123e4567-e89b-12d3-a456-426614174000"])"));
  EXPECT_FALSE(accepts(dates, R"(["2024-02-29", "123e4567e89b12d3a456426614174000"])"));
  auto any = compile(json_value_gbnf(true));
  EXPECT_TRUE(accepts(any, R"({"a": [1, 2.5e-3, "x\"\u00e9", {}], "b": null})"));
  EXPECT_FALSE(accepts(any, R"([1])"));
  EXPECT_FALSE(accepts(any, R"({"a": 'x'})"));
}

TEST(JsonSchema, UnsupportedKeywordsAreErrorsThatSayWhere) {
  EXPECT_EQ(schema_error(Json::parse(R"({"type": "object", "properties": {"age": {"type":
      "integer", "minimum": 0}}})")),
            "at /properties/age: 'minimum' is not supported");
  EXPECT_EQ(schema_error(Json::parse(R"({"type": "string", "format": "email"})")),
            "at /format: format 'email' is not supported (date, time, date-time, uuid)");
  EXPECT_EQ(schema_error(Json::parse(R"({"$ref": "https://example.com/s.json"})")),
            "at /$ref: only local references ('#/...') are supported, got "
            "'https://example.com/s.json'");
  EXPECT_EQ(schema_error(Json::parse(R"({"$ref": "#/$defs/missing"})")),
            "at /$ref: '#/$defs/missing' does not point into the schema");
  EXPECT_EQ(schema_error(Json::parse(R"({"type": "strin"})")), "at /type: unknown type 'strin'");
  EXPECT_EQ(schema_error(Json::parse(R"({"type": "object", "required": ["x"]})")),
            "at /required: required property 'x' is not in 'properties'");
  EXPECT_EQ(schema_error(Json::parse(R"({"type": "array", "uniqueItems": true})")),
            "at /: 'uniqueItems' is not supported");
  EXPECT_EQ(schema_error(Json::parse(R"({"type": "string", "pattern": "(a"})")),
            "at /pattern: regex offset 2: missing ')'");
  EXPECT_EQ(schema_error(Json(false)), "at /: the schema 'false' matches nothing");
  EXPECT_EQ(schema_error(Json::parse(R"({"allOf": [{}, {}]})")),
            "at /allOf: only 'allOf' with exactly one schema is supported");
}

// ---- regex and choices -------------------------------------------------------------------

TEST(Regex, RandomRegexesMatchStdRegex) {
  const std::vector<std::string> atoms = {"a",      "b",     "[ab]", "[^a]",     "\\d", ".",
                                          "(a|bc)", "(?:b)", "\\.",  "[a-c0-1]", "\\w", "\\s"};
  const std::vector<std::string> quants = {"", "", "*", "+", "?", "{2}", "{1,3}", "{0,}"};
  const std::string alphabet = "ab c.1\n";
  int num_compared = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](const std::vector<std::string>& v) {
      return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
    };
    std::string re;
    const int n = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int i = 0; i < n; ++i) re += pick(atoms) + pick(quants);
    if (seed % 5 == 0) re = "(" + re + ")|b+";
    auto gbnf = regex_to_gbnf(re);
    ASSERT_TRUE(gbnf.ok()) << re << ": " << gbnf.error().message;
    auto cg = compile(*gbnf);
    ASSERT_TRUE(cg);
    const std::regex oracle(re);
    for (int k = 0; k < 150; ++k) {
      std::string s;
      const int len = std::uniform_int_distribution<int>(0, 6)(rng);
      for (int i = 0; i < len; ++i)
        s += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
      ASSERT_EQ(accepts(cg, s), std::regex_match(s, oracle)) << "/" << re << "/ on '" << s << "'";
      ++num_compared;
    }
  }
  EXPECT_EQ(num_compared, 9000);
}

TEST(Regex, EscapesInsideJsonStrings) {
  auto expr = regex_to_gbnf_expr("a[\"\\\\\\n]b", {.json_string = true});
  ASSERT_TRUE(expr.ok());
  auto cg = compile("root ::= " + *expr + "\n");
  EXPECT_TRUE(accepts(cg, "a\\\"b"));
  EXPECT_TRUE(accepts(cg, "a\\\\b"));
  EXPECT_TRUE(accepts(cg, "a\\nb"));
  EXPECT_FALSE(accepts(cg, "a\"b"));
  EXPECT_FALSE(accepts(cg, "a\nb"));
}

TEST(Regex, ErrorsSayWhere) {
  auto err = [](const std::string& re) {
    auto g = regex_to_gbnf(re);
    return g.ok() ? std::string("(compiled)") : g.error().message;
  };
  EXPECT_EQ(err("(a"), "regex offset 2: missing ')'");
  EXPECT_EQ(err("a)"), "regex offset 1: unbalanced ')'");
  EXPECT_EQ(err("(a)\\1"), "regex offset 4: backreferences are not supported");
  EXPECT_EQ(err("a(?=b)"), "regex offset 3: lookarounds and inline flags are not supported");
  EXPECT_EQ(err("*a"), "regex offset 0: nothing to repeat");
  EXPECT_EQ(err("a**"),
            "regex offset 2: multiple repeat (possessive quantifiers are not supported)");
  EXPECT_EQ(err("[a-"), "regex offset 3: unterminated character class");
  EXPECT_EQ(err("\\bx"), "regex offset 1: word boundaries (\\b) are not supported");
  EXPECT_EQ(err("a^b"), "regex offset 1: anchors are only supported at the ends");
  EXPECT_EQ(err("^ab$"), "(compiled)");
}

TEST(Choices, ExactlyTheChoices) {
  const std::vector<std::string> choices = {"yes", "no", "y\"es\xC3\xA9"};
  auto gbnf = choices_to_gbnf(choices);
  ASSERT_TRUE(gbnf.ok());
  auto cg = compile(*gbnf);
  for (const auto& c : choices) EXPECT_TRUE(accepts(cg, c));
  EXPECT_FALSE(accepts(cg, "ye"));
  EXPECT_FALSE(accepts(cg, "yesno"));
  EXPECT_FALSE(choices_to_gbnf({}).ok());
}

}  // namespace
}  // namespace sarathi::grammar
