// server/jinja_ast.h: tokens, the syntax tree, and the lexer and parser that build it from
// template text. Internal to server/jinja*; depends only on jinja_value.h. Both stages throw
// JinjaError (caught in jinja.cpp), never crash, and bound their nesting.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/jinja_value.h"

namespace sarathi::server::jinja {

/// Deepest nesting of expressions or of block statements the parser accepts.
inline constexpr int kMaxNesting = 64;

enum class Tok : uint8_t {
  kText,        // literal template text (after whitespace control)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,
  kInt,
  kFloat,
  kOp,  // punctuation and operators: + - * / // % ** ~ == != < > <= >= ( ) [ ] { } , . : | =
  kEof,
};

struct Token {
  Tok type = Tok::kEof;
  std::string text;  // text, name, decoded string literal, or operator
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
};

struct LexOptions {
  bool trim_blocks = true;    // drop the first newline after a block tag (HF's setting)
  bool lstrip_blocks = true;  // strip spaces/tabs before a block tag on its line (HF's setting)
};

/// Splits template text into tokens. Normalizes \r\n to \n and drops one trailing newline,
/// as Jinja does by default.
std::vector<Token> lex(std::string_view source, const LexOptions& opts);

enum class ExprKind : uint8_t {
  kLiteral,
  kName,
  kList,     // args: items
  kDict,     // args: key0, value0, key1, value1, ...
  kGetAttr,  // args[0] . name
  kGetItem,  // args[0] [ args[1] ]
  kSlice,    // args[0] [ args[1] : args[2] : args[3] ] (null parts allowed)
  kCall,     // args[0] ( args[1..] , kwargs )
  kFilter,   // args[0] | name ( args[1..], kwargs )
  kTest,     // args[0] is [not] name ( args[1..] )
  kUnary,    // name: "-", "+" or "not"; args[0]
  kBinary,   // name: operator; args[0], args[1]
  kAnd,
  kOr,
  kCond,  // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  Value value;       // kLiteral
  std::string name;  // variable, attribute, filter, test or operator
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;  // kTest: "is not"
  int depth = 1;         // 1 + the deepest child; bounded by the parser
};

enum class NodeKind : uint8_t {
  kText,
  kOutput,    // {{ expr }}
  kIf,        // branches, else_body
  kFor,       // targets in expr [if filter]: body [else else_body]
  kSet,       // targets[0] (or targets[0].attr) = expr
  kSetBlock,  // {% set targets[0] %}body{% endset %}
  kBreak,
  kContinue,
  kScope,  // a block rendered in place (HF's {% generation %})
};

struct Node;
using Body = std::vector<Node>;

struct IfBranch {
  ExprPtr cond;
  Body body;
};

struct Node {
  NodeKind kind = NodeKind::kText;
  int line = 0;
  std::string text;                  // kText
  ExprPtr expr;                      // kOutput, kFor iterable, kSet value
  ExprPtr filter;                    // kFor: "if" condition, may be null
  std::vector<std::string> targets;  // kFor loop variables; kSet/kSetBlock name
  std::string attr;                  // kSet: namespace attribute, empty for a plain name
  std::vector<IfBranch> branches;    // kIf
  Body body;                         // kFor, kSetBlock, kScope
  Body else_body;                    // kIf, kFor
};

/// Parses tokens into the template body.
Body parse(std::vector<Token> tokens);

}  // namespace sarathi::server::jinja
