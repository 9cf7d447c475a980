// server/jinja.h: a small Jinja2 interpreter for the chat templates shipped in model files
// (HF semantics: trim_blocks, lstrip_blocks, raise_exception, strftime_now, HF's tojson).
// Depends on core/ and nlohmann_json only; nothing here knows about HTTP, tokenizers or models.
//
// Supported: {{ }}, {% %}, {# #}, whitespace control (-/+), if/elif/else, for (tuple targets,
// "if" filter, else, loop.index/index0/revindex/revindex0/first/last/length), set (names,
// namespace attributes, set blocks), break/continue, raw, HF's generation block; literals,
// lists, dicts, attribute/subscript/slice access, Python operators, and/or/not, in, is-tests,
// inline if/else; the filters, tests, str/dict methods and globals in jinja_builtins.cpp.
// Not supported (a parse or render error, never a crash): macros, call blocks, include/import,
// extends/block, recursive loops, chained comparisons, % string formatting.
// Simplified: tuples are lists (they print as [..]); upper/lower/title/capitalize map ASCII only;
// attribute access on undefined gives undefined (Jinja raises) while arithmetic on it fails.
// Templates may come from user files: nesting, evaluation steps, allocations and output are
// bounded, and every failure is a core::Error.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sarathi::server::jinja {

struct TemplateOptions {
  bool trim_blocks = true;  // HF's apply_chat_template compiles with both of these on
  bool lstrip_blocks = true;
  size_t max_output_bytes = size_t{4} << 20;  // rendered text
  size_t max_value_bytes = size_t{4} << 20;   // any one string or list repr built while rendering
  size_t max_list_items = 100'000;            // any one list (range() included)
  uint64_t max_steps = 2'000'000;             // evaluation steps (bounds time)
  uint64_t max_alloc_bytes = uint64_t{256} << 20;  // bytes allocated over one render
};

struct Program;  // the parsed syntax tree (jinja.cpp)

/// A parsed template. Cheap to copy; render() is const and safe to call from many threads.
class Template {
 public:
  /// Parses template text. Errors: kInvalidFormat with "line N: syntax error: ...".
  static core::Result<Template> parse(std::string_view source, const TemplateOptions& opts = {});

  /// Renders with the given context (a JSON object; its keys become variables). Errors:
  /// kInvalidArgument for raise_exception() (the message is the template's), kOutOfRange when
  /// a limit was hit, kInvalidFormat for any other render error (type errors, unknown filters).
  core::Result<std::string> render(const nlohmann::ordered_json& context) const;

 private:
  std::shared_ptr<const Program> program_;
};

}  // namespace sarathi::server::jinja
