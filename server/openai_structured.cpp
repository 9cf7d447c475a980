#include "server/openai_structured.h"

#include <fmt/format.h>

#include "grammar/json_schema.h"
#include "grammar/regex.h"

namespace sarathi::server {

ApiResult<ConstraintGrammar> compile_constraint(const OutputConstraint& c) {
  using Kind = OutputConstraint::Kind;
  if (c.kind == Kind::kNone) return ConstraintGrammar{};
  core::Result<std::string> gbnf = std::string();
  switch (c.kind) {
    case Kind::kJsonObject:
      gbnf = grammar::json_value_gbnf(true);
      break;
    case Kind::kJsonSchema:
      gbnf = grammar::json_schema_to_gbnf(c.schema);
      break;
    case Kind::kRegex:
      gbnf = grammar::regex_to_gbnf(c.text);
      break;
    case Kind::kChoice:
      gbnf = grammar::choices_to_gbnf(c.choices);
      break;
    case Kind::kGrammar:
      gbnf = c.text;
      break;
    case Kind::kNone:
      break;
  }
  if (!gbnf.ok())
    return invalid_request(c.param, fmt::format("invalid '{}': {}", c.param, gbnf.error().message),
                           "invalid_value");
  auto g = grammar::parse_gbnf(*gbnf);
  if (!g.ok()) {
    // A GBNF the client wrote is their error; one we generated would be ours, but say where.
    return invalid_request(c.param, fmt::format("invalid '{}': {}", c.param, g.error().message),
                           "invalid_value");
  }
  return ConstraintGrammar{.gbnf = std::move(*gbnf), .grammar = std::move(*g)};
}

}  // namespace sarathi::server
