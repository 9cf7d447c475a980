// server/jinja_eval.h: the tree-walking renderer and the built-in filters, tests, methods and
// global functions it calls. Internal to server/jinja*; depends only on jinja_ast.h. Every
// failure is a JinjaError; every loop, allocation and output byte is charged to RenderLimits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/jinja_ast.h"

namespace sarathi::server::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{4} << 20;  // rendered text
  size_t max_value_bytes = size_t{4}
                           << 20;   // any one string, list repr or JSON the template builds
  size_t max_list_items = 100'000;  // any one list (range() included)
  uint64_t max_steps = 2'000'000;   // evaluated expressions, nodes and loop iterations
  uint64_t max_alloc_bytes = uint64_t{256} << 20;  // bytes allocated over the whole render
};

/// Arguments of a filter, test, method or function call.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  int line = 0;

  /// Positional argument `idx`, else keyword `name`, else nullptr.
  const Value* get(size_t idx, std::string_view name) const;
};

class Renderer {
 public:
  Renderer(const RenderLimits& limits, ValueDict context);

  /// Renders the template body; throws JinjaError.
  std::string render(const Body& body);

  /// Counts one evaluation step (and `work` more for linear-time operations).
  void tick(int line, uint64_t work = 0);
  /// Charges an allocation of `bytes` and checks that a value of that size is allowed.
  void charge_value_bytes(size_t bytes, int line);
  /// Charges a new list of `n` items and checks the list size limit.
  void charge_list(size_t n, int line);
  /// The limits this render runs under.
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Scope = std::unordered_map<std::string, Value>;

  Flow exec_body(const Body& body);
  Flow exec(const Node& n);
  Flow exec_if(const Node& n);
  Flow exec_for(const Node& n);
  void exec_set(const Node& n, Value v);
  void emit(std::string_view s);
  void bind_targets(const std::vector<std::string>& targets, const Value& item, int line);
  Value lookup(const std::string& name) const;

  Value eval(const Expr& e);
  Value eval_list(const Expr& e);
  Value eval_dict(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_binary(const Expr& e);
  Value eval_slice(const Expr& e);
  CallArgs eval_args(const Expr& e, size_t first);

  RenderLimits limits_;
  std::vector<Scope> scopes_;  // [0]: builtins, [1]: the render context, then one per loop
  std::string out_;
  size_t suspended_bytes_ = 0;  // output held by enclosing {% set %} blocks
  uint64_t steps_ = 0;
  uint64_t alloc_bytes_ = 0;
  int line_ = 0;  // line of the latest step, for errors raised without one
};

// jinja_builtins.cpp

/// Applies filter `name` (trim, tojson, default, ...) to v.
Value apply_filter(Renderer& r, std::string_view name, const Value& v, const CallArgs& a);
/// Evaluates test `name` (defined, none, string, ...) on v.
bool apply_test(Renderer& r, std::string_view name, const Value& v, const CallArgs& a);
/// Calls method `name` of obj (str.strip, dict.items, ...).
Value call_method(Renderer& r, const Value& obj, std::string_view name, const CallArgs& a);
/// Calls a global function (range, namespace, raise_exception, strftime_now, dict).
Value call_builtin(Renderer& r, std::string_view name, const CallArgs& a);
/// Names of the global functions, bound in the outermost scope.
const std::vector<std::string>& builtin_names();

/// Python item access: dict key, list or string index (negative from the end); undefined
/// when missing.
Value get_item(Renderer& r, const Value& obj, const Value& key, int line);
/// Jinja attribute access: dict/namespace entry, else undefined.
Value get_attr(const Value& obj, std::string_view name);
/// The items a for loop visits: list items, dict keys, string characters; undefined is empty.
/// Charged as a new list before it is built.
ValueList iterate(Renderer& r, const Value& v, int line);
/// Python str(v), bounded by the value size limit.
std::string checked_str(Renderer& r, const Value& v, int line);

}  // namespace sarathi::server::jinja
