// grammar/regex.h: regular expressions and choice lists → GBNF. The whole output must match
// (vLLM's guided_regex). Depends on core/ only.
//
// Regex syntax (ECMAScript/Python subset): literals and escapes (\. \\ \n \t \r \f \v \xHH
// \uHHHH), classes [...] with ranges and negation, \d \D \w \W \s \S (ASCII), `.` (any
// character but \n), groups (...), (?:...), (?<name>...), (?P<name>...), alternation |,
// quantifiers * + ? {n} {n,} {n,m} (lazy forms read as greedy), ^ at the start and $ at the
// end. Refused with the offset: backreferences, lookarounds, \b, inline flags, other anchors.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sarathi::grammar {

struct RegexOptions {
  // The regex describes a JSON string's value; the grammar spells it JSON-escaped (for a
  // schema's "pattern": quotes, backslashes and control characters as escapes).
  bool json_string = false;
};

/// A GBNF expression (no rule names) matching the strings the regex matches. Errors
/// (kInvalidArgument) read "regex offset N: what".
core::Result<std::string> regex_to_gbnf_expr(std::string_view regex,
                                             const RegexOptions& options = {});
/// A whole grammar: root ::= <the regex>.
core::Result<std::string> regex_to_gbnf(std::string_view regex);
/// root ::= "choice 1" | "choice 2" | ...; at least one choice (kInvalidArgument otherwise).
core::Result<std::string> choices_to_gbnf(std::span<const std::string> choices);

}  // namespace sarathi::grammar
