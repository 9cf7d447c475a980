// GBNF parsing, lowering and the grammar checks; whole-string matching through the Matcher.
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace sarathi::grammar {
namespace {

std::shared_ptr<const TokenVocab> byte_vocab() {
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  pieces.emplace_back();  // EOS (empty piece)
  return TokenVocab::create(std::move(pieces), {256});
}

/// Whether `text` is a complete sentence of the grammar.
bool matches(const std::string& gbnf, std::string_view text) {
  auto g = parse_gbnf(gbnf);
  EXPECT_TRUE(g.ok()) << g.error().message;
  if (!g.ok()) return false;
  Matcher m(std::make_shared<CompiledGrammar>(*g, byte_vocab()));
  return m.accept_bytes(text) && m.can_end();
}

std::string error_of(const std::string& gbnf) {
  auto g = parse_gbnf(gbnf);
  return g.ok() ? std::string("(parsed)") : g.error().message;
}

TEST(Gbnf, LiteralsAlternativesAndGroups) {
  const std::string g = "root ::= \"ab\" (\"c\" | \"de\") tail\ntail ::= \"!\" | \"\"\n";
  EXPECT_TRUE(matches(g, "abc"));
  EXPECT_TRUE(matches(g, "abde!"));
  EXPECT_FALSE(matches(g, "abd"));
  EXPECT_FALSE(matches(g, "abcde"));
  EXPECT_FALSE(matches(g, ""));
}

TEST(Gbnf, Repetitions) {
  const std::string g = "root ::= [a-c]+ \"-\" [0-9]{2,3} \"-\" \"x\"? (\"ab\"){1,} \"!\"*\n";
  EXPECT_TRUE(matches(g, "a-12-ab"));
  EXPECT_TRUE(matches(g, "cab-123-xabab!!!"));
  EXPECT_FALSE(matches(g, "-12-ab"));
  EXPECT_FALSE(matches(g, "a-1-ab"));
  EXPECT_FALSE(matches(g, "a-1234-ab"));
  EXPECT_FALSE(matches(g, "a-12-xx-ab"));
  EXPECT_FALSE(matches(g, "a-12-"));
  EXPECT_TRUE(matches("root ::= \"a\"{0,2} \"b\"{3}\n", "abbb"));
  EXPECT_FALSE(matches("root ::= \"a\"{0,2} \"b\"{3}\n", "aaabbb"));
  EXPECT_TRUE(matches("root ::= \"a\"{,2}\n", ""));
}

TEST(Gbnf, ClassesEscapesAndUnicode) {
  EXPECT_TRUE(matches("root ::= [^\"\\\\]*\n", "h\xC3\xA9llo \xE4\xB8\xAD \xF0\x9F\x98\x80"));
  EXPECT_FALSE(matches("root ::= [^\"\\\\]*\n", "a\"b"));
  EXPECT_FALSE(matches("root ::= [^a]\n", "\xC3"));       // a partial character is not one
  EXPECT_FALSE(matches("root ::= .\n", "\xC0\x80"));      // overlong encodings are not UTF-8
  EXPECT_FALSE(matches("root ::= .\n", "\xED\xA0\x80"));  // nor are surrogates
  EXPECT_TRUE(matches("root ::= [\\u00e0-\\u00ff] \"\\x41\\n\\t\"\n",
                      "\xC3\xA9"
                      "A\n\t"));
  EXPECT_FALSE(matches("root ::= [\\u00e0-\\u00ff]\n", "\xC3\x9F"));  // U+00DF
  EXPECT_TRUE(matches("root ::= \"\xE4\xB8\xAD\" [\\U0001F600-\\U0001F64F]\n",
                      "\xE4\xB8\xAD\xF0\x9F\x98\x80"));
  EXPECT_TRUE(matches("root ::= [\\]\\[-]+\n", "[-]"));
}

TEST(Gbnf, CommentsNewlinesAndNames) {
  const std::string g =
      "# a comment\n"
      "root ::= item-list # trailing\n"
      "\n"
      "item-list ::= (\n"
      "    item_1 |\n"
      "    \"z\"\n"
      "  )+\n"
      "item_1 ::= \"y\"\n";
  EXPECT_TRUE(matches(g, "yzy"));
  EXPECT_FALSE(matches(g, "yx"));
}

TEST(Gbnf, RecursionThroughRules) {
  const std::string g = "root ::= \"(\" root \")\" root | \"\"\n";
  EXPECT_TRUE(matches(g, "(()())()"));
  EXPECT_FALSE(matches(g, "(()"));
  EXPECT_FALSE(matches(g, "())"));
}

TEST(Gbnf, ErrorsSayWhere) {
  EXPECT_EQ(error_of("root ::= foo\n"), "line 1, column 10: undefined rule 'foo'");
  EXPECT_EQ(error_of("root ::= \"a\"\nbad rule\n"),
            "line 2, column 5: expected '::=' after rule name 'bad'");
  EXPECT_EQ(error_of("root ::= \"abc\n"), "line 1, column 10: unterminated string literal");
  EXPECT_EQ(error_of("root ::= [a-\n"), "line 1, column 10: unterminated character class");
  EXPECT_EQ(error_of("root ::= (\"a\"\n"), "line 1, column 10: unclosed '('");
  EXPECT_EQ(error_of("root ::= \"a\" \\q\n"), "line 1, column 14: unexpected '\\'");
  EXPECT_EQ(error_of("root ::= \"\\q\"\n"), "line 1, column 11: unknown escape '\\q'");
  EXPECT_EQ(error_of("root ::= \"a\"{3,1}\n"),
            "line 1, column 13: repetition maximum below its minimum");
  EXPECT_EQ(error_of("root ::= * \"a\"\n"), "line 1, column 10: '*' has nothing to repeat");
  EXPECT_EQ(error_of("root ::= <[1000]>\n"),
            "line 1, column 10: token references (<...>) are not supported");
  EXPECT_EQ(error_of("rot ::= \"a\"\n"), "the grammar has no 'root' rule");
  EXPECT_EQ(error_of(""), "the grammar is empty");
  EXPECT_EQ(error_of("root ::= \"a\"\nroot ::= \"b\"\n"),
            "line 2, column 1: rule 'root' is defined twice");
  EXPECT_EQ(error_of("root ::= root \"a\" | \"b\"\n"),
            "left recursion: root -> root can be reached again without reading anything");
  EXPECT_EQ(error_of("root ::= x\nx ::= y? x \"a\" | \"b\"\ny ::= \"c\"\n"),
            "left recursion: x -> x can be reached again without reading anything");
  EXPECT_EQ(error_of("root ::= \"a\" root\n"),
            "rule 'root' can never finish (each of its alternatives needs itself or matches "
            "nothing)");
  EXPECT_EQ(error_of("root ::= (\"a\"?)*\n"),
            "line 1, column 16: repetition of something that can match the empty string");
  EXPECT_EQ(error_of("root ::= \"a\"{10001}\n"),
            "line 1, column 13: repetition bounds above 10000");
}

TEST(Gbnf, LoweredGrammarPrintsAndReparses) {
  const std::string src = "root ::= \"a\\\"\" [^a-z\\n]* (x | \"q\")\nx ::= [\\u00e9] | \"\"\n";
  auto g = parse_gbnf(src);
  ASSERT_TRUE(g.ok()) << g.error().message;
  const std::string printed = (*g)->to_gbnf();
  auto again = parse_gbnf(printed);
  ASSERT_TRUE(again.ok()) << again.error().message << "\n" << printed;
  EXPECT_EQ((*again)->to_gbnf(), printed);
  EXPECT_TRUE(matches(printed, "a\"XY\xC3\xA9"));
  EXPECT_TRUE(matches(printed, "a\"q"));
}

}  // namespace
}  // namespace sarathi::grammar
