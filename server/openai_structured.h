// server/openai_structured.h: structured-output constraints of a request (response_format,
// guided_*, structured_outputs, grammar, json_schema) compiled to a grammar, with a 400 naming
// the field and where it failed. Depends on grammar/ and openai_request.h; no HTTP, no engine.
#pragma once

#include <memory>
#include <string>

#include "grammar/grammar.h"
#include "server/openai_request.h"

namespace sarathi::server {

struct ConstraintGrammar {
  std::string gbnf;                                 // the grammar's text (a cache key)
  std::shared_ptr<const grammar::Grammar> grammar;  // null: no constraint
};

/// Compiles a constraint (kNone gives an empty result). JSON objects: any object; schemas,
/// regexes and choices through grammar/; GBNF as given.
ApiResult<ConstraintGrammar> compile_constraint(const OutputConstraint& c);

}  // namespace sarathi::server
