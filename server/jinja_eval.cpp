// Renderer: executes statements and evaluates expressions with Python/Jinja semantics.
#include "server/jinja_eval.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace sarathi::server::jinja {
namespace {

[[noreturn]] void limit_error(int line, std::string message) {
  throw JinjaError{.message = std::move(message), .line = line, .limit_error = true};
}

/// Arithmetic treats bools as ints, as Python does.
bool int_like(const Value& v) { return v.kind() == Kind::kInt || v.kind() == Kind::kBool; }
int64_t int_of(const Value& v) { return v.kind() == Kind::kBool ? v.as_bool() : v.as_int(); }
bool numeric(const Value& v) { return v.is_number() || v.kind() == Kind::kBool; }
double double_of(const Value& v) { return v.kind() == Kind::kBool ? v.as_bool() : v.as_double(); }

[[noreturn]] void operand_error(int line, const std::string& op, const Value& a, const Value& b) {
  throw_error(line, fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op,
                                type_name(a), type_name(b)));
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

Value int_pow(int64_t base, int64_t exp, int line) {
  int64_t result = 1;
  while (exp > 0) {
    if ((exp & 1) && __builtin_mul_overflow(result, base, &result))
      throw_error(line, "integer overflow in **");
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base))
      throw_error(line, "integer overflow in **");
  }
  return Value::integer(result);
}

Value int_arith(const std::string& op, int64_t a, int64_t b, int line) {
  int64_t r = 0;
  bool overflow = false;
  if (op == "+")
    overflow = __builtin_add_overflow(a, b, &r);
  else if (op == "-")
    overflow = __builtin_sub_overflow(a, b, &r);
  else if (op == "*")
    overflow = __builtin_mul_overflow(a, b, &r);
  else if (op == "/") {
    if (b == 0) throw_error(line, "division by zero");
    return Value::number(static_cast<double>(a) / static_cast<double>(b));
  } else if (op == "//" || op == "%") {
    if (b == 0) throw_error(line, "integer division or modulo by zero");
    if (op == "//" && a == std::numeric_limits<int64_t>::min() && b == -1)
      overflow = true;
    else
      r = op == "//" ? floor_div(a, b) : floor_mod(a, b);
  } else if (op == "**") {
    if (b < 0) return Value::number(std::pow(static_cast<double>(a), static_cast<double>(b)));
    return int_pow(a, b, line);
  }
  if (overflow) throw_error(line, fmt::format("integer overflow in {}", op));
  return Value::integer(r);
}

Value float_arith(const std::string& op, double a, double b, int line) {
  if (op == "+") return Value::number(a + b);
  if (op == "-") return Value::number(a - b);
  if (op == "*") return Value::number(a * b);
  if (op == "**") return Value::number(std::pow(a, b));
  if (b == 0.0) throw_error(line, "float division by zero");
  if (op == "/") return Value::number(a / b);
  if (op == "//") return Value::number(std::floor(a / b));
  double r = std::fmod(a, b);
  if (r != 0.0 && ((r < 0) != (b < 0))) r += b;
  return Value::number(r);
}

}  // namespace

const Value* CallArgs::get(size_t idx, std::string_view name) const {
  if (idx < args.size()) return &args[idx];
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  return nullptr;
}

Renderer::Renderer(const RenderLimits& limits, ValueDict context) : limits_(limits) {
  scopes_.emplace_back();
  for (const auto& name : builtin_names()) scopes_[0][name] = Value::builtin(name);
  scopes_.emplace_back();
  for (auto& [k, v] : context) scopes_[1][k] = std::move(v);
}

std::string Renderer::render(const Body& body) {
  try {
    exec_body(body);
  } catch (JinjaError& e) {
    if (e.line == 0) e.line = line_;
    throw;
  }
  return std::move(out_);
}

void Renderer::tick(int line, uint64_t work) {
  if (line > 0) line_ = line;
  steps_ = work > limits_.max_steps ? limits_.max_steps + 1 : steps_ + 1 + work;  // no wrap
  if (steps_ > limits_.max_steps)
    limit_error(line, fmt::format("template exceeded {} evaluation steps", limits_.max_steps));
}

void Renderer::charge_value_bytes(size_t bytes, int line) {
  if (bytes > limits_.max_value_bytes)
    limit_error(line, fmt::format("a value grew past {} bytes", limits_.max_value_bytes));
  alloc_bytes_ += bytes;
  if (alloc_bytes_ > limits_.max_alloc_bytes)
    limit_error(line,
                fmt::format("template allocated more than {} bytes", limits_.max_alloc_bytes));
  tick(line, bytes / 256);
}

void Renderer::charge_list(size_t n, int line) {
  if (n > limits_.max_list_items)
    limit_error(line, fmt::format("a list grew past {} items", limits_.max_list_items));
  charge_value_bytes(n * sizeof(Value), line);
}

void Renderer::emit(std::string_view s) {
  out_ += s;
  if (out_.size() + suspended_bytes_ > limits_.max_output_bytes)
    limit_error(0, fmt::format("rendered text exceeded {} bytes", limits_.max_output_bytes));
}

Value Renderer::lookup(const std::string& name) const {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto found = it->find(name);
    if (found != it->end()) return found->second;
  }
  return Value();
}

// ---- statements ----

Renderer::Flow Renderer::exec_body(const Body& body) {
  for (const Node& n : body) {
    const Flow f = exec(n);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Renderer::Flow Renderer::exec(const Node& n) {
  tick(n.line);
  switch (n.kind) {
    case NodeKind::kText:
      emit(n.text);
      return Flow::kNormal;
    case NodeKind::kOutput: {
      const Value v = eval(*n.expr);
      if (v.is_string())
        emit(v.str());
      else
        emit(checked_str(*this, v, n.line));
      return Flow::kNormal;
    }
    case NodeKind::kIf:
      return exec_if(n);
    case NodeKind::kFor:
      return exec_for(n);
    case NodeKind::kSet:
      exec_set(n, eval(*n.expr));
      return Flow::kNormal;
    case NodeKind::kSetBlock: {
      std::string saved;
      saved.swap(out_);
      suspended_bytes_ += saved.size();
      const Flow f = exec_body(n.body);
      suspended_bytes_ -= saved.size();
      saved.swap(out_);
      exec_set(n, Value::string(std::move(saved)));
      return f;
    }
    case NodeKind::kBreak:
      return Flow::kBreak;
    case NodeKind::kContinue:
      return Flow::kContinue;
    case NodeKind::kScope:
      return exec_body(n.body);
  }
  return Flow::kNormal;
}

Renderer::Flow Renderer::exec_if(const Node& n) {
  for (const IfBranch& b : n.branches)
    if (eval(*b.cond).truthy()) return exec_body(b.body);
  return exec_body(n.else_body);
}

void Renderer::bind_targets(const std::vector<std::string>& targets, const Value& item, int line) {
  Scope& scope = scopes_.back();
  if (targets.size() == 1) {
    scope[targets[0]] = item;
    return;
  }
  if (!item.is_list() || item.items().size() != targets.size())
    throw_error(line, fmt::format("cannot unpack {} into {} loop variables", type_name(item),
                                  targets.size()));
  for (size_t i = 0; i < targets.size(); ++i) scope[targets[i]] = item.items()[i];
}

Renderer::Flow Renderer::exec_for(const Node& n) {
  const ValueList all = iterate(*this, eval(*n.expr), n.line);
  struct ScopeGuard {
    std::vector<Scope>& s;
    ~ScopeGuard() { s.pop_back(); }
  } guard{scopes_};
  scopes_.emplace_back();

  ValueList kept;  // the loop filter runs before the loop, so loop.length counts kept items
  for (const Value& item : all) {
    if (!n.filter) break;
    tick(n.line);
    bind_targets(n.targets, item, n.line);
    if (eval(*n.filter).truthy()) kept.push_back(item);
  }
  const ValueList& items = n.filter ? kept : all;
  if (items.empty()) {
    scopes_.back().clear();
    return exec_body(n.else_body);  // break/continue here belong to an enclosing loop
  }
  const auto length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    tick(n.line);
    scopes_.back().clear();
    bind_targets(n.targets, items[static_cast<size_t>(i)], n.line);
    scopes_.back()["loop"] = Value::dict({
        {"index", Value::integer(i + 1)},
        {"index0", Value::integer(i)},
        {"revindex", Value::integer(length - i)},
        {"revindex0", Value::integer(length - i - 1)},
        {"first", Value::boolean(i == 0)},
        {"last", Value::boolean(i == length - 1)},
        {"length", Value::integer(length)},
    });
    if (exec_body(n.body) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Renderer::exec_set(const Node& n, Value v) {
  if (n.attr.empty()) {
    scopes_.back()[n.targets[0]] = std::move(v);
    return;
  }
  const Value target = lookup(n.targets[0]);
  if (target.kind() != Kind::kNamespace)
    throw_error(n.line, fmt::format("cannot assign attribute on a {} ('{}' is not a namespace)",
                                    type_name(target), n.targets[0]));
  if (v.holds_namespace()) throw_error(n.line, "a namespace cannot hold another namespace");
  ValueDict& attrs = target.ns_entries();
  for (auto& [k, old] : attrs) {
    if (k == n.attr) {
      old = std::move(v);
      return;
    }
  }
  attrs.emplace_back(n.attr, std::move(v));
}

// ---- expressions ----

Value Renderer::eval(const Expr& e) {
  tick(e.line);
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.value;
    case ExprKind::kName:
      return lookup(e.name);
    case ExprKind::kList:
      return eval_list(e);
    case ExprKind::kDict:
      return eval_dict(e);
    case ExprKind::kGetAttr:
      return get_attr(eval(*e.args[0]), e.name);
    case ExprKind::kGetItem: {
      const Value obj = eval(*e.args[0]);
      return get_item(*this, obj, eval(*e.args[1]), e.line);
    }
    case ExprKind::kSlice:
      return eval_slice(e);
    case ExprKind::kCall:
      return eval_call(e);
    case ExprKind::kFilter: {
      const Value v = eval(*e.args[0]);
      return apply_filter(*this, e.name, v, eval_args(e, 1));
    }
    case ExprKind::kTest: {
      const Value v = eval(*e.args[0]);
      return Value::boolean(apply_test(*this, e.name, v, eval_args(e, 1)) != e.negated);
    }
    case ExprKind::kUnary: {
      const Value v = eval(*e.args[0]);
      if (e.name == "not") return Value::boolean(!v.truthy());
      if (!numeric(v))
        throw_error(e.line,
                    fmt::format("bad operand type for unary {}: '{}'", e.name, type_name(v)));
      if (e.name == "+") return int_like(v) ? Value::integer(int_of(v)) : v;
      if (!int_like(v)) return Value::number(-v.as_double());
      if (int_of(v) == std::numeric_limits<int64_t>::min()) throw_error(e.line, "integer overflow");
      return Value::integer(-int_of(v));
    }
    case ExprKind::kBinary:
      return eval_binary(e);
    case ExprKind::kAnd: {
      Value l = eval(*e.args[0]);
      return l.truthy() ? eval(*e.args[1]) : l;
    }
    case ExprKind::kOr: {
      Value l = eval(*e.args[0]);
      return l.truthy() ? l : eval(*e.args[1]);
    }
    case ExprKind::kCond:
      if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
      return e.args[2] ? eval(*e.args[2]) : Value();
  }
  return Value();
}

Value Renderer::eval_list(const Expr& e) {
  charge_list(e.args.size(), e.line);
  ValueList items;
  items.reserve(e.args.size());
  for (const auto& a : e.args) items.push_back(eval(*a));
  return Value::list(std::move(items));
}

Value Renderer::eval_dict(const Expr& e) {
  charge_list(e.args.size(), e.line);
  ValueDict entries;
  for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
    const Value key = eval(*e.args[i]);
    if (!key.is_string())
      throw_error(e.line, fmt::format("dict keys must be strings, got {}", type_name(key)));
    Value value = eval(*e.args[i + 1]);
    bool replaced = false;
    for (auto& [k, v] : entries) {
      if (k == key.str()) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) entries.emplace_back(key.str(), std::move(value));
  }
  return Value::dict(std::move(entries));
}

CallArgs Renderer::eval_args(const Expr& e, size_t first) {
  CallArgs a;
  a.line = e.line;
  for (size_t i = first; i < e.args.size(); ++i) a.args.push_back(eval(*e.args[i]));
  for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, eval(*v));
  return a;
}

Value Renderer::eval_call(const Expr& e) {
  const Expr& callee = *e.args[0];
  if (callee.kind == ExprKind::kGetAttr) {
    const Value obj = eval(*callee.args[0]);
    return call_method(*this, obj, callee.name, eval_args(e, 1));
  }
  const Value fn = eval(callee);
  if (fn.kind() == Kind::kBuiltin) return call_builtin(*this, fn.str(), eval_args(e, 1));
  if (fn.is_undefined() && callee.kind == ExprKind::kName)
    throw_error(e.line, fmt::format("'{}' is undefined", callee.name));
  throw_error(e.line, fmt::format("'{}' object is not callable", type_name(fn)));
}

Value Renderer::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  const Value a = eval(*e.args[0]);
  const Value b = eval(*e.args[1]);
  const int line = e.line;
  if (op == "==" || op == "!=") {
    tick(line, std::min(a.weight(), b.weight()));
    return Value::boolean(equals(a, b) == (op == "=="));
  }
  if (op == "<") return Value::boolean(compare(a, b, line) < 0);
  if (op == ">") return Value::boolean(compare(a, b, line) > 0);
  if (op == "<=") return Value::boolean(compare(a, b, line) <= 0);
  if (op == ">=") return Value::boolean(compare(a, b, line) >= 0);
  if (op == "in" || op == "not in") {
    tick(line, b.weight());
    const Value found =
        apply_test(*this, "in", a, CallArgs{.args = {b}, .kwargs = {}, .line = line})
            ? Value::boolean(true)
            : Value::boolean(false);
    return Value::boolean(found.as_bool() == (op == "in"));
  }
  if (op == "~") {
    std::string s = checked_str(*this, a, line);
    s += checked_str(*this, b, line);
    charge_value_bytes(s.size(), line);
    return Value::string(std::move(s));
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    charge_value_bytes(a.str().size() + b.str().size(), line);
    return Value::string(a.str() + b.str());
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    charge_list(a.items().size() + b.items().size(), line);
    ValueList items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return Value::list(std::move(items));
  }
  if (op == "*" && (a.is_string() || a.is_list()) && int_like(b)) {
    return apply_filter(*this, "__repeat__", a, CallArgs{.args = {b}, .kwargs = {}, .line = line});
  }
  if (op == "*" && int_like(a) && (b.is_string() || b.is_list())) {
    return apply_filter(*this, "__repeat__", b, CallArgs{.args = {a}, .kwargs = {}, .line = line});
  }
  if (op == "%" && a.is_string()) throw_error(line, "string formatting with % is not supported");
  if (!numeric(a) || !numeric(b)) operand_error(line, op, a, b);
  if (int_like(a) && int_like(b)) return int_arith(op, int_of(a), int_of(b), line);
  return float_arith(op, double_of(a), double_of(b), line);
}

Value Renderer::eval_slice(const Expr& e) {
  const Value obj = eval(*e.args[0]);
  Value parts[3];
  for (int k = 0; k < 3; ++k)
    if (e.args[static_cast<size_t>(k) + 1]) parts[k] = eval(*e.args[static_cast<size_t>(k) + 1]);
  int64_t bound[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (int k = 0; k < 3; ++k) {
    if (parts[k].is_undefined() || parts[k].is_none()) continue;
    if (!int_like(parts[k])) throw_error(e.line, "slice indices must be integers or None");
    bound[k] = int_of(parts[k]);
    given[k] = true;
  }
  const int64_t step = bound[2];
  if (step == 0) throw_error(e.line, "slice step cannot be zero");
  if (!obj.is_list() && !obj.is_string()) return Value();
  const std::vector<size_t> offsets =
      obj.is_string() ? utf8_offsets(obj.str()) : std::vector<size_t>();
  const int64_t len = obj.is_list() ? static_cast<int64_t>(obj.items().size())
                                    : static_cast<int64_t>(offsets.size()) - 1;
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](int k, int64_t dflt) {
    if (!given[k]) return dflt;
    int64_t v = bound[k];
    if (v < 0)
      v = std::max<int64_t>(v + len, step < 0 ? -1 : 0);
    else
      v = std::min<int64_t>(v, step < 0 ? len - 1 : len);
    return v;
  };
  const int64_t start = adjust(0, step < 0 ? len - 1 : 0);
  const int64_t stop = adjust(1, step < 0 ? -1 : len);
  // start and stop lie in [-1, len], so these differences and start + k * step cannot overflow.
  int64_t count = 0;
  if (step > 0 && start < stop) count = (stop - start - 1) / step + 1;
  if (step < 0 && start > stop)
    count = step == std::numeric_limits<int64_t>::min() ? 1 : (start - stop - 1) / -step + 1;
  auto index = [&](int64_t k) { return static_cast<size_t>(start + k * step); };
  if (obj.is_list()) {
    charge_list(static_cast<size_t>(count), e.line);
    ValueList items;
    items.reserve(static_cast<size_t>(count));
    for (int64_t k = 0; k < count; ++k) items.push_back(obj.items()[index(k)]);
    return Value::list(std::move(items));
  }
  tick(e.line, static_cast<uint64_t>(count) / 64);
  std::string s;
  for (int64_t k = 0; k < count; ++k) {
    const size_t u = index(k);
    s.append(obj.str(), offsets[u], offsets[u + 1] - offsets[u]);
  }
  charge_value_bytes(s.size(), e.line);
  return Value::string(std::move(s));
}

}  // namespace sarathi::server::jinja
