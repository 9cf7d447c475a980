// server/jinja_value.h: the dynamic value of the Jinja interpreter (Python-like: undefined, none,
// bool, int, float, str, list, dict, namespace, builtin function) and its Python conversions
// (str(), repr(), json.dumps(), ==, <, UTF-8 helpers). Internal to server/jinja*; depends on
// nothing outside the standard library.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sarathi::server::jinja {

/// Thrown inside the interpreter and caught at the Template boundary (jinja.cpp): it never
/// leaves server/jinja*. `user_error` marks raise_exception() (the conversation is at fault);
/// everything else means the template is broken or exceeded a limit.
struct JinjaError {
  std::string message;
  int line = 0;
  bool user_error = false;
  bool limit_error = false;
};

/// Throws a JinjaError (a template or type error) at `line` (0: the renderer's current line).
[[noreturn]] void throw_error(int line, std::string message);
/// Throws a limit error when `out` has grown past max_bytes.
void check_size(const std::string& out, size_t max_bytes);

class Value;
using ValueList = std::vector<Value>;
/// Insertion-ordered like a Python dict; keys are strings (the only keys templates use).
using ValueDict = std::vector<std::pair<std::string, Value>>;

enum class Kind : uint8_t {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kDict,
  kNamespace,  // namespace(): the one mutable object, shared by reference
  kBuiltin,    // a global function such as range or raise_exception
};

/// Cheap to copy: strings, lists and dicts are shared and immutable once built (Jinja's
/// sandbox forbids mutating them); only a namespace's attributes change, through set ns.x = v.
class Value {
 public:
  Value() = default;  // undefined
  /// Constructors of each kind; list/dict/name_space throw past kMaxValueDepth nesting, and
  /// name_space() when an attribute holds a namespace.
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value list(ValueList items);
  static Value dict(ValueDict entries);
  static Value name_space(ValueDict attrs);
  static Value builtin(std::string name);

  /// Kind tests.
  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }

  /// Payload accessors: valid only for the matching kind (str() for kString and kBuiltin).
  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  /// The numeric value of an int or float.
  double as_double() const { return kind_ == Kind::kInt ? static_cast<double>(i_) : f_; }
  const std::string& str() const { return *s_; }
  const ValueList& items() const { return *list_; }
  const ValueDict& entries() const { return *dict_; }
  /// Namespace attributes (mutable: namespaces are shared by reference).
  ValueDict& ns_entries() const { return *dict_; }
  /// Nesting depth of lists and dicts (0 for scalars), bounded so that recursive helpers
  /// (==, repr, tojson, destructors) cannot overflow the stack.
  int depth() const { return depth_; }
  /// Whether this is or holds a namespace; a namespace may not be stored inside a namespace,
  /// which keeps the object graph acyclic (no leaks, no infinite repr).
  bool holds_namespace() const { return has_ns_; }
  /// Rough cost of walking the whole value (==, in, repr): nodes plus string bytes / 64,
  /// counting shared parts each time they are reached; saturates.
  uint64_t weight() const { return weight_; }

  /// Python truthiness: empty strings, lists and dicts, zero, none and undefined are false.
  bool truthy() const;
  /// Dict or namespace entry, or nullptr.
  const Value* find(std::string_view key) const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool has_ns_ = false;
  uint16_t depth_ = 0;
  uint64_t weight_ = 1;
  int64_t i_ = 0;
  double f_ = 0.0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
};

/// Deepest list/dict nesting a value may have.
inline constexpr int kMaxValueDepth = 64;

/// Python's type name ("str", "int", "NoneType", ...) for error messages.
std::string_view type_name(const Value& v);
/// Python str(): what {{ v }} prints (undefined prints nothing). Lists and dicts print as
/// their repr; a result longer than max_bytes throws a limit error.
std::string to_str(const Value& v, size_t max_bytes = SIZE_MAX);
/// Python repr(), used for items inside printed lists and dicts.
std::string repr(const Value& v, size_t max_bytes = SIZE_MAX);
/// Python repr() of a float ("1.0", "0.1", "1e-05").
std::string float_repr(double f);

struct JsonOptions {
  int indent = -1;  // < 0: one line
  bool sort_keys = false;
  bool ensure_ascii = false;
  std::optional<std::string> item_separator;  // default: ", " on one line, "," with indent
  std::string key_separator = ": ";
};
/// Python json.dumps(v) with HF's tojson defaults (ensure_ascii=False); throws on undefined.
std::string to_json(const Value& v, const JsonOptions& opts, int line, size_t max_bytes = SIZE_MAX);

/// Python ==: numbers compare by value, dicts ignore order, undefined equals only undefined.
bool equals(const Value& a, const Value& b);
/// Python < for numbers and strings; -1/0/1. Throws for other types.
int compare(const Value& a, const Value& b, int line);

/// Decodes the code point at s[i] and its length in bytes; an invalid sequence yields its
/// first byte with length 1.
std::pair<uint32_t, size_t> decode_utf8(std::string_view s, size_t i);
/// Byte offsets of the code point starts in s, plus s.size() at the end.
std::vector<size_t> utf8_offsets(std::string_view s);
/// Number of code points (invalid bytes count one each).
size_t utf8_length(std::string_view s);
/// Appends code point cp as UTF-8.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace sarathi::server::jinja
