// grammar/json_schema.h: JSON Schema → GBNF, and the grammar of any JSON value. Every string the
// grammar accepts is a valid instance of the schema (a subset of them: properties in the order
// the schema lists them, compact JSON with at most one space after ':' and ','; with strings,
// arrays and objects of every size the schema allows). Depends on nlohmann_json and grammar.h.
//
// Supported: type (one or a list), properties, required, additionalProperties (false, true or a
// schema; absent means false, as OpenAI's strict mode and XGrammar do), items, prefixItems,
// minItems, maxItems, enum, const, anyOf, oneOf (as anyOf: overlapping branches are not
// excluded), allOf with one schema, $ref to "#" or "#/..." pointers ($defs, definitions;
// recursion allowed), minLength, maxLength, pattern (see regex.h), format date, time,
// date-time and uuid; the annotations (title, description, default, examples...) are ignored.
// Refused (an error naming the keyword and where): minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, multipleOf, patternProperties, propertyNames, minProperties, maxProperties,
// dependentRequired, dependentSchemas, uniqueItems, contains, not, if/then/else,
// unevaluated*, other formats, remote $refs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace sarathi::grammar {

/// GBNF (start rule "root") for the instances of `schema` (ordered: properties keep the
/// schema's order). Errors (kInvalidArgument) read
/// "at <JSON pointer>: <what>".
core::Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema);
/// The same with the start rule named `root_name` and the schema's own rules prefixed by
/// `prefix`, so that several schemas can share one grammar (the shared JSON primitives are the
/// same text in each: keep one copy of repeated lines).
core::Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema,
                                              const std::string& root_name,
                                              const std::string& prefix);

/// GBNF for any JSON value, or only objects (response_format json_object).
std::string json_value_gbnf(bool object_only);

}  // namespace sarathi::grammar
