// Parser: tokens → syntax tree, by recursive descent with Jinja2's operator precedence
// (condexpr < or < and < not < compare < + - < ~ < * / // % < ** < unary < filters/tests <
// postfix). Nesting of statements and expressions is bounded.
#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

#include "server/jinja_ast.h"

namespace sarathi::server::jinja {
namespace {

/// Deepest expression tree (left-leaning chains such as a+b+c+... count too), so that the
/// recursive evaluator and destructors stay within a small stack.
constexpr int kMaxExprDepth = 256;

int expr_depth(const Expr& e);

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parse_template() {
    Body body = parse_body({});
    if (peek().type != Tok::kEof) fail(fmt::format("unexpected '{}'", peek(1).text));
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting) p_.fail("template nested too deeply");
    }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Parser& p_;
  };

  const Token& peek(size_t k = 0) const {
    return toks_[std::min(i_ + k, toks_.size() - 1)];  // the last token is always kEof
  }
  Token next() {
    Token t = peek();
    if (i_ < toks_.size() - 1) ++i_;
    return t;
  }
  bool at_op(std::string_view op, size_t k = 0) const {
    return peek(k).type == Tok::kOp && peek(k).text == op;
  }
  bool at_name(std::string_view name, size_t k = 0) const {
    return peek(k).type == Tok::kName && peek(k).text == name;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw_error(peek().line, "syntax error: " + what);
  }
  std::string describe(const Token& t) const {
    switch (t.type) {
      case Tok::kEof:
        return "end of template";
      case Tok::kText:
        return "template text";
      case Tok::kString:
        return "string literal";
      default:
        return "'" + t.text + "'";
    }
  }
  void expect_op(std::string_view op) {
    if (!at_op(op)) fail(fmt::format("expected '{}', got {}", op, describe(peek())));
    next();
  }
  std::string expect_name() {
    if (peek().type != Tok::kName) fail("expected a name, got " + describe(peek()));
    return next().text;
  }
  void expect_block_end() {
    if (peek().type != Tok::kBlockEnd) fail("expected '%}', got " + describe(peek()));
    next();
  }

  ExprPtr make(ExprKind kind, int line, std::vector<ExprPtr> args = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    e->args = std::move(args);
    e->depth = expr_depth(*e);
    if (e->depth > kMaxExprDepth) fail("expression too deeply nested");
    return e;
  }
  ExprPtr make2(ExprKind kind, int line, std::string name, ExprPtr a, ExprPtr b = nullptr) {
    std::vector<ExprPtr> args;
    args.push_back(std::move(a));
    if (b) args.push_back(std::move(b));
    ExprPtr e = make(kind, line, std::move(args));
    e->name = std::move(name);
    return e;
  }

  // ---- statements ----

  Body parse_body(std::initializer_list<std::string_view> end_tags) {
    Body body;
    for (;;) {
      const Token& t = peek();
      if (t.type == Tok::kEof) {
        if (end_tags.size() != 0) fail(fmt::format("missing '{{% {} %}}'", *(end_tags.end() - 1)));
        return body;
      }
      if (t.type == Tok::kText) {
        Node n;
        n.kind = NodeKind::kText;
        n.line = t.line;
        n.text = next().text;
        body.push_back(std::move(n));
      } else if (t.type == Tok::kVarBegin) {
        Node n;
        n.kind = NodeKind::kOutput;
        n.line = next().line;
        n.expr = parse_expression();
        if (peek().type != Tok::kVarEnd) fail("expected '}}', got " + describe(peek()));
        next();
        body.push_back(std::move(n));
      } else if (t.type == Tok::kBlockBegin) {
        if (peek(1).type == Tok::kName &&
            std::find(end_tags.begin(), end_tags.end(), peek(1).text) != end_tags.end())
          return body;
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  /// Consumes "{% name" of an end or middle tag the caller expects.
  void consume_tag(std::string_view name) {
    next();  // {%
    if (!at_name(name)) fail(fmt::format("expected '{}'", name));
    next();
  }

  Node parse_statement() {
    DepthGuard guard(*this);
    next();  // {%
    if (peek().type != Tok::kName) fail("expected a tag name, got " + describe(peek()));
    const Token tag = next();
    Node n;
    n.line = tag.line;
    if (tag.text == "if") {
      parse_if(n);
    } else if (tag.text == "for") {
      parse_for(n);
    } else if (tag.text == "set") {
      parse_set(n);
    } else if (tag.text == "break" || tag.text == "continue") {
      if (loop_depth_ == 0) fail(fmt::format("'{}' outside a loop", tag.text));
      n.kind = tag.text == "break" ? NodeKind::kBreak : NodeKind::kContinue;
      expect_block_end();
    } else if (tag.text == "generation") {
      n.kind = NodeKind::kScope;
      expect_block_end();
      n.body = parse_body({"endgeneration"});
      consume_tag("endgeneration");
      expect_block_end();
    } else {
      fail(fmt::format("unknown or unsupported tag '{}'", tag.text));
    }
    return n;
  }

  void parse_if(Node& n) {
    n.kind = NodeKind::kIf;
    IfBranch first;
    first.cond = parse_expression();
    expect_block_end();
    first.body = parse_body({"elif", "else", "endif"});
    n.branches.push_back(std::move(first));
    while (at_name("elif", 1)) {
      consume_tag("elif");
      IfBranch b;
      b.cond = parse_expression();
      expect_block_end();
      b.body = parse_body({"elif", "else", "endif"});
      n.branches.push_back(std::move(b));
    }
    if (at_name("else", 1)) {
      consume_tag("else");
      expect_block_end();
      n.else_body = parse_body({"endif"});
    }
    consume_tag("endif");
    expect_block_end();
  }

  void parse_for(Node& n) {
    n.kind = NodeKind::kFor;
    n.targets.push_back(expect_name());
    while (at_op(",")) {
      next();
      n.targets.push_back(expect_name());
    }
    if (!at_name("in")) fail("expected 'in' in for loop, got " + describe(peek()));
    next();
    n.expr = parse_expression(/*with_condexpr=*/false);
    if (at_name("if")) {
      next();
      n.filter = parse_expression(/*with_condexpr=*/false);
    }
    if (at_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    ++loop_depth_;
    n.body = parse_body({"else", "endfor"});
    --loop_depth_;
    if (at_name("else", 1)) {
      consume_tag("else");
      expect_block_end();
      n.else_body = parse_body({"endfor"});
    }
    consume_tag("endfor");
    expect_block_end();
  }

  void parse_set(Node& n) {
    n.targets.push_back(expect_name());
    if (at_op(".")) {
      next();
      n.attr = expect_name();
    }
    if (at_op("=")) {
      next();
      n.kind = NodeKind::kSet;
      n.expr = parse_expression();
      expect_block_end();
      return;
    }
    if (!n.attr.empty() || peek().type != Tok::kBlockEnd)
      fail("expected '=' in set, got " + describe(peek()));
    next();
    n.kind = NodeKind::kSetBlock;
    n.body = parse_body({"endset"});
    consume_tag("endset");
    expect_block_end();
  }

  // ---- expressions ----

  ExprPtr parse_expression(bool with_condexpr = true) {
    DepthGuard guard(*this);
    ExprPtr e = parse_or();
    while (with_condexpr && at_name("if")) {
      const int line = next().line;
      ExprPtr cond = parse_or();
      ExprPtr otherwise;
      if (at_name("else")) {
        next();
        otherwise = parse_expression();
      }
      std::vector<ExprPtr> args;
      args.push_back(std::move(e));
      args.push_back(std::move(cond));
      args.push_back(std::move(otherwise));
      e = make(ExprKind::kCond, line, std::move(args));
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (at_name("or")) {
      const int line = next().line;
      e = make2(ExprKind::kOr, line, "or", std::move(e), parse_and());
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (at_name("and")) {
      const int line = next().line;
      e = make2(ExprKind::kAnd, line, "and", std::move(e), parse_not());
    }
    return e;
  }

  ExprPtr parse_not() {
    if (!at_name("not")) return parse_compare();
    const int line = next().line;
    DepthGuard guard(*this);
    return make2(ExprKind::kUnary, line, "not", parse_not());
  }

  /// The comparison operator at the cursor ("in" and "not in" included), or empty.
  std::string compare_op() const {
    static constexpr std::string_view kOps[] = {"==", "!=", "<", ">", "<=", ">="};
    for (auto op : kOps)
      if (at_op(op)) return std::string(op);
    if (at_name("in")) return "in";
    if (at_name("not") && at_name("in", 1)) return "not in";
    return "";
  }

  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    std::string op = compare_op();
    if (op.empty()) return e;
    const int line = next().line;
    if (op == "not in") next();
    e = make2(ExprKind::kBinary, line, op, std::move(e), parse_math1());
    if (!compare_op().empty()) fail("chained comparisons are not supported");
    return e;
  }

  template <typename Sub>
  ExprPtr parse_binary_chain(std::initializer_list<std::string_view> ops, Sub sub) {
    ExprPtr e = (this->*sub)();
    for (;;) {
      auto it =
          std::find_if(ops.begin(), ops.end(), [&](std::string_view op) { return at_op(op); });
      if (it == ops.end()) return e;
      const int line = next().line;
      e = make2(ExprKind::kBinary, line, std::string(*it), std::move(e), (this->*sub)());
    }
  }

  ExprPtr parse_math1() { return parse_binary_chain({"+", "-"}, &Parser::parse_concat); }
  ExprPtr parse_concat() { return parse_binary_chain({"~"}, &Parser::parse_math2); }
  ExprPtr parse_math2() { return parse_binary_chain({"*", "/", "//", "%"}, &Parser::parse_pow); }
  ExprPtr parse_pow() { return parse_binary_chain({"**"}, &Parser::parse_unary_filtered); }
  ExprPtr parse_unary_filtered() { return parse_unary(/*with_filter=*/true); }

  ExprPtr parse_unary(bool with_filter) {
    ExprPtr e;
    if (at_op("-") || at_op("+")) {
      const Token op = next();
      DepthGuard guard(*this);
      e = make2(ExprKind::kUnary, op.line, op.text, parse_unary(/*with_filter=*/false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr literal(int line, Value v) {
    ExprPtr e = make(ExprKind::kLiteral, line);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    const int line = t.line;
    switch (t.type) {
      case Tok::kName:
        return parse_name();
      case Tok::kString: {
        std::string s = next().text;
        while (peek().type == Tok::kString) s += next().text;  // adjacent literals concatenate
        return literal(line, Value::string(std::move(s)));
      }
      case Tok::kInt:
        return literal(line, Value::integer(next().int_value));
      case Tok::kFloat:
        return literal(line, Value::number(next().float_value));
      case Tok::kOp:
        if (t.text == "(") return parse_paren();
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr parse_name() {
    const Token t = next();
    if (t.text == "true" || t.text == "True") return literal(t.line, Value::boolean(true));
    if (t.text == "false" || t.text == "False") return literal(t.line, Value::boolean(false));
    if (t.text == "none" || t.text == "None") return literal(t.line, Value::none());
    ExprPtr e = make(ExprKind::kName, t.line);
    e->name = t.text;
    return e;
  }

  /// Parses items up to `close`, separated by commas (a trailing comma is allowed).
  template <typename Item>
  void parse_items(std::string_view close, Item item) {
    while (!at_op(close)) {
      item();
      if (!at_op(",")) break;
      next();
    }
    expect_op(close);
  }

  ExprPtr parse_paren() {
    const int line = next().line;
    if (at_op(")")) {
      next();
      return make(ExprKind::kList, line);  // () is an empty tuple
    }
    ExprPtr first = parse_expression();
    if (!at_op(",")) {
      expect_op(")");
      return first;
    }
    std::vector<ExprPtr> items;
    items.push_back(std::move(first));
    next();
    parse_items(")", [&] { items.push_back(parse_expression()); });
    return make(ExprKind::kList, line, std::move(items));  // tuples are lists here
  }

  ExprPtr parse_list() {
    const int line = next().line;
    std::vector<ExprPtr> items;
    parse_items("]", [&] { items.push_back(parse_expression()); });
    return make(ExprKind::kList, line, std::move(items));
  }

  ExprPtr parse_dict() {
    const int line = next().line;
    std::vector<ExprPtr> items;
    parse_items("}", [&] {
      items.push_back(parse_expression());
      expect_op(":");
      items.push_back(parse_expression());
    });
    return make(ExprKind::kDict, line, std::move(items));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (at_op(".")) {
        const int line = next().line;
        if (peek().type == Tok::kInt) {  // foo.0 is foo[0]
          ExprPtr index = literal(line, Value::integer(next().int_value));
          e = make2(ExprKind::kGetItem, line, "", std::move(e), std::move(index));
        } else {
          e = make2(ExprKind::kGetAttr, line, expect_name(), std::move(e));
        }
      } else if (at_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (at_op("(")) {
        e = parse_call(std::move(e), ExprKind::kCall, "");
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const int line = next().line;
    ExprPtr parts[3];
    if (!at_op(":")) parts[0] = parse_expression();
    if (at_op("]")) {
      next();
      if (!parts[0]) fail("empty subscript");
      return make2(ExprKind::kGetItem, line, "", std::move(obj), std::move(parts[0]));
    }
    expect_op(":");
    if (!at_op(":") && !at_op("]")) parts[1] = parse_expression();
    if (at_op(":")) {
      next();
      if (!at_op("]")) parts[2] = parse_expression();
    }
    expect_op("]");
    std::vector<ExprPtr> args;
    args.push_back(std::move(obj));
    for (auto& p : parts) args.push_back(std::move(p));
    return make(ExprKind::kSlice, line, std::move(args));
  }

  /// Parses "(args, name=value, ...)" into a call, filter or test node whose args[0] is the
  /// callee or operand.
  ExprPtr parse_call(ExprPtr target, ExprKind kind, std::string name) {
    const int line = target->line;
    std::vector<ExprPtr> args;
    args.push_back(std::move(target));
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    if (at_op("(")) {
      next();
      parse_items(")", [&] {
        if (peek().type == Tok::kName && at_op("=", 1)) {
          std::string key = next().text;
          next();
          kwargs.emplace_back(std::move(key), parse_expression());
        } else {
          if (!kwargs.empty()) fail("positional argument after keyword argument");
          args.push_back(parse_expression());
        }
      });
    }
    ExprPtr e = make(kind, line, std::move(args));
    e->name = std::move(name);
    e->kwargs = std::move(kwargs);
    e->depth = expr_depth(*e);
    if (e->depth > kMaxExprDepth) fail("expression too deeply nested");
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    for (;;) {
      if (at_op("|")) {
        next();
        std::string name = expect_name();
        e = parse_call(std::move(e), ExprKind::kFilter, std::move(name));
      } else if (at_name("is")) {
        e = parse_test(std::move(e));
      } else if (at_op("(")) {
        e = parse_call(std::move(e), ExprKind::kCall, "");
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_test(ExprPtr e) {
    next();  // is
    bool negated = false;
    if (at_name("not")) {
      next();
      negated = true;
    }
    std::string name = expect_name();
    ExprPtr test;
    const Token& t = peek();
    const bool bare_arg = (t.type == Tok::kName || t.type == Tok::kString || t.type == Tok::kInt ||
                           t.type == Tok::kFloat || at_op("[") || at_op("{")) &&
                          !at_name("else") && !at_name("or") && !at_name("and") && !at_name("if") &&
                          !at_name("is");
    if (bare_arg) {  // "x is divisibleby 3", "x is equalto 'a'"
      const int line = e->line;
      std::vector<ExprPtr> args;
      args.push_back(std::move(e));
      args.push_back(parse_postfix(parse_primary()));
      test = make(ExprKind::kTest, line, std::move(args));
      test->name = std::move(name);
    } else {
      test = parse_call(std::move(e), ExprKind::kTest, std::move(name));
    }
    test->negated = negated;
    return test;
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

/// 1 + the deepest child (children already carry their own depth).
int expr_depth(const Expr& e) {
  int d = 0;
  for (const auto& a : e.args)
    if (a) d = std::max(d, a->depth);
  for (const auto& [k, v] : e.kwargs) d = std::max(d, v->depth);
  return d + 1;
}

}  // namespace

Body parse(std::vector<Token> tokens) { return Parser(std::move(tokens)).parse_template(); }

}  // namespace sarathi::server::jinja
