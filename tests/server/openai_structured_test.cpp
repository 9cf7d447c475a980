// Structured-output request fields: each form parses to its constraint (schemas keep the
// client's property order) and compiles; bad schemas, regexes and grammars are 400s that say
// which field and where.
#include "server/openai_structured.h"

#include <gtest/gtest.h>

#include "grammar/matcher.h"

namespace sarathi::server {
namespace {

using Kind = OutputConstraint::Kind;

OutputConstraint constraint(const std::string& fields) {
  auto r = parse_completion_request(R"({"prompt": "x", )" + fields + "}");
  EXPECT_TRUE(r.ok()) << fields << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r->sampling.constraint : OutputConstraint{};
}

// Whether the compiled constraint accepts `text` as a whole.
bool accepts(const OutputConstraint& c, std::string_view text) {
  auto g = compile_constraint(c);
  EXPECT_TRUE(g.ok()) << g.error().message;
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  auto cg = std::make_shared<grammar::CompiledGrammar>(
      g->grammar, grammar::TokenVocab::create(std::move(pieces), {}));
  grammar::Matcher m(cg);
  return m.accept_bytes(text) && m.can_end();
}

TEST(StructuredOutput, EveryRequestFormParses) {
  EXPECT_EQ(constraint(R"("response_format": {"type": "text"})").kind, Kind::kNone);
  const auto obj = constraint(R"("response_format": {"type": "json_object"})");
  EXPECT_EQ(obj.kind, Kind::kJsonObject);
  EXPECT_TRUE(accepts(obj, R"({"a": [1, {}]})"));
  EXPECT_FALSE(accepts(obj, "[1]"));
  const auto rf = constraint(R"("response_format": {"type": "json_schema", "json_schema": {
      "name": "p", "strict": true, "schema": {"type": "object", "properties": {
      "z": {"type": "integer"}, "a": {"type": "boolean"}}, "required": ["z", "a"]}}})");
  ASSERT_EQ(rf.kind, Kind::kJsonSchema);
  EXPECT_EQ(rf.param, "response_format.json_schema.schema");
  EXPECT_TRUE(accepts(rf, R"({"z":1,"a":true})"));  // the client's order, not sorted
  EXPECT_FALSE(accepts(rf, R"({"a":true,"z":1})"));
  const auto gj =
      constraint(R"("guided_json": "{\"type\": \"array\", \"items\": {\"type\": \"null\"}}")");
  EXPECT_EQ(gj.kind, Kind::kJsonSchema);  // a schema as JSON text (vLLM allows it)
  EXPECT_TRUE(accepts(gj, "[null, null]"));
  EXPECT_TRUE(accepts(constraint(R"("guided_regex": "\\d{2}-x")"), "42-x"));
  EXPECT_TRUE(accepts(constraint(R"("guided_choice": ["left", "right"])"), "right"));
  EXPECT_FALSE(accepts(constraint(R"("guided_choice": ["left", "right"])"), "up"));
  EXPECT_TRUE(accepts(constraint(R"("guided_grammar": "root ::= \"a\"+")"), "aaa"));
  EXPECT_TRUE(accepts(constraint(R"("grammar": "root ::= [xy]")"), "y"));
  EXPECT_TRUE(accepts(constraint(R"("json_schema": {"enum": [1, "b"]})"), "\"b\""));
  EXPECT_TRUE(accepts(constraint(R"("structured_outputs": {"choice": ["q"]})"), "q"));
  EXPECT_TRUE(accepts(constraint(R"("structured_outputs": {"json": {"type": "integer"}})"), "-7"));
  EXPECT_TRUE(accepts(constraint(R"("structured_outputs": {"regex": "a|b"})"), "b"));
  EXPECT_TRUE(accepts(constraint(R"("structured_outputs": {"json_object": true})"), "{}"));
  auto chat = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
      "response_format": {"type": "json_object"}})");
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->sampling.constraint.kind, Kind::kJsonObject);
}

TEST(StructuredOutput, CompileErrorsNameTheFieldAndWhere) {
  auto err = [](const std::string& fields) {
    auto g = compile_constraint(constraint(fields));
    EXPECT_FALSE(g.ok());
    if (g.ok()) return std::make_pair(std::string(), std::string());
    EXPECT_EQ(g.error().http_status, 400);
    return std::make_pair(g.error().param, g.error().message);
  };
  EXPECT_EQ(err(R"("guided_json": {"type": "integer", "minimum": 1})"),
            std::make_pair(std::string("guided_json"),
                           std::string("invalid 'guided_json': at /: 'minimum' is not supported")));
  EXPECT_EQ(
      err(R"x("guided_regex": "a(?=b)")x").second,
      "invalid 'guided_regex': regex offset 3: lookarounds and inline flags are not supported");
  EXPECT_EQ(err(R"("grammar": "root ::= \"a\"\nroot ::= x")").second,
            "invalid 'grammar': line 2, column 1: rule 'root' is defined twice");
  EXPECT_EQ(err(R"("guided_grammar": "start ::= \"a\"")").second,
            "invalid 'guided_grammar': the grammar has no 'root' rule");
  EXPECT_EQ(err(R"("response_format": {"type": "json_schema", "json_schema": {"schema":
      {"type": "object", "properties": {"d": {"type": "string", "format": "email"}}}}})")
                .first,
            "response_format.json_schema.schema");
}

}  // namespace
}  // namespace sarathi::server
