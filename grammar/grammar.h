// grammar/grammar.h: a context-free grammar over bytes, parsed from GBNF (llama.cpp's format) and
// lowered to a flat form the matcher walks: rules of alternatives, each a run of elements (one
// byte, a Unicode character class matched as UTF-8, a character class repeated any number of
// times, a reference to a rule) ending in kEnd. Depends on core/ only.
//
// GBNF as llama.cpp reads it: `name ::= alternatives` (one rule per line; newlines are spaces
// inside parentheses), "literals" and [character classes] with \n \r \t \\ \" \[ \] \xHH \uHHHH
// \UHHHHHHHH escapes, [^...] negation, `.` (any character), ( groups ), | alternatives,
// * + ? {m} {m,} {m,n} {,n} repetitions, # comments. Rule names are [A-Za-z0-9_-]+; the
// start rule is `root`. Refused with the line and column: undefined rules, left recursion,
// rules that can never finish, repetitions of something that can match nothing, token
// references (<...>).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sarathi::grammar {

/// Inclusive range of Unicode code points.
struct CodeRange {
  uint32_t lo = 0;
  uint32_t hi = 0;
};

/// A set of code points: sorted, disjoint, non-adjacent ranges within [0, 0x10FFFF].
struct CharClass {
  std::vector<CodeRange> ranges;
  std::array<uint64_t, 2> ascii{};  // membership of code points 0..127, for the common case

  bool contains(uint32_t cp) const;
  /// Whether some code point in [lo, hi] is in the class.
  bool intersects(uint32_t lo, uint32_t hi) const;
};

enum class ElemKind : uint8_t {
  kEnd,        // end of an alternative
  kByte,       // one byte (`value`)
  kClass,      // one character of classes[value], as UTF-8
  kClassStar,  // zero or more characters of classes[value]
  kRuleRef,    // rule `value`
};

struct Elem {
  ElemKind kind = ElemKind::kEnd;
  int32_t value = 0;
};

/// A lowered grammar. Positions are indices into `elems`; rule r's alternatives start at
/// `elems[alts[r][i]]` and run to the next kEnd. Immutable once built; share it freely.
struct Grammar {
  std::vector<Elem> elems;
  std::vector<std::vector<int32_t>> alts;  // per rule: start position of each alternative
  std::vector<std::string> names;          // per rule (helper rules are named after their origin)
  std::vector<CharClass> classes;
  int32_t root = 0;

  /// GBNF text of the lowered grammar (for messages and tests).
  std::string to_gbnf() const;
};

/// Parses and lowers GBNF. Errors (kInvalidArgument) read "line L, column C: what".
core::Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text,
                                                        std::string_view root = "root");

/// Quotes bytes as a GBNF string literal ("..." with escapes).
std::string gbnf_literal(std::string_view bytes);

}  // namespace sarathi::grammar
