// Template: parse/render entry points; turns JSON into interpreter values and interpreter
// exceptions into core::Error so that nothing is thrown past this file.
#include "server/jinja.h"

#include <new>
#include <stdexcept>

#include "server/jinja_ast.h"
#include "server/jinja_eval.h"

namespace sarathi::server::jinja {

struct Program {
  Body body;
  TemplateOptions opts;
};

namespace {

Value from_json(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxValueDepth) throw_error(0, "render context nested too deeply");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      ValueList items;
      for (const auto& x : j) items.push_back(from_json(x, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      ValueDict entries;
      for (const auto& [k, x] : j.items()) entries.emplace_back(k, from_json(x, depth + 1));
      return Value::dict(std::move(entries));
    }
    default:
      return Value();  // binary and discarded values
  }
}

core::Error to_error(const JinjaError& e) {
  const std::string where = e.line > 0 ? fmt::format("line {}: ", e.line) : "";
  if (e.user_error) return core::Error{core::ErrorCode::kInvalidArgument, e.message};
  if (e.limit_error)
    return core::make_error(core::ErrorCode::kOutOfRange, "chat template {}{}", where, e.message);
  return core::make_error(core::ErrorCode::kInvalidFormat, "chat template {}{}", where, e.message);
}

}  // namespace

core::Result<Template> Template::parse(std::string_view source, const TemplateOptions& opts) {
  try {
    auto program = std::make_shared<Program>();
    program->opts = opts;
    program->body = jinja::parse(lex(
        source, LexOptions{.trim_blocks = opts.trim_blocks, .lstrip_blocks = opts.lstrip_blocks}));
    Template t;
    t.program_ = std::move(program);
    return t;
  } catch (const JinjaError& e) {
    return to_error(e);
  } catch (const std::bad_alloc&) {
    return core::Error{core::ErrorCode::kResourceExhausted, "chat template: out of memory"};
  } catch (const std::exception& e) {  // a bug: report it rather than unwind past this layer
    return core::make_error(core::ErrorCode::kInternal, "chat template: {}", e.what());
  }
}

core::Result<std::string> Template::render(const nlohmann::ordered_json& context) const {
  if (!program_) return core::Error{core::ErrorCode::kInvalidArgument, "template not parsed"};
  if (!context.is_object())
    return core::Error{core::ErrorCode::kInvalidArgument, "template context must be an object"};
  const TemplateOptions& o = program_->opts;
  try {
    ValueDict vars;
    for (const auto& [k, x] : context.items()) vars.emplace_back(k, from_json(x, 1));
    Renderer r(RenderLimits{.max_output_bytes = o.max_output_bytes,
                            .max_value_bytes = o.max_value_bytes,
                            .max_list_items = o.max_list_items,
                            .max_steps = o.max_steps,
                            .max_alloc_bytes = o.max_alloc_bytes},
               std::move(vars));
    return r.render(program_->body);
  } catch (const JinjaError& e) {
    return to_error(e);
  } catch (const std::bad_alloc&) {
    return core::Error{core::ErrorCode::kResourceExhausted, "chat template: out of memory"};
  } catch (const std::length_error&) {
    return core::Error{core::ErrorCode::kResourceExhausted, "chat template: value too large"};
  } catch (const std::exception& e) {  // a bug: report it rather than unwind past this layer
    return core::make_error(core::ErrorCode::kInternal, "chat template: {}", e.what());
  }
}

}  // namespace sarathi::server::jinja
