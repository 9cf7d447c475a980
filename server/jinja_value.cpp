#include "server/jinja_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/utf8.h"

namespace sarathi::server::jinja {

void throw_error(int line, std::string message) {
  throw JinjaError{.message = std::move(message), .line = line};
}

void check_size(const std::string& out, size_t max_bytes) {
  if (out.size() > max_bytes)
    throw JinjaError{.message = fmt::format("a value grew past {} bytes", max_bytes),
                     .limit_error = true};
}

namespace {

uint64_t add_weight(uint64_t a, uint64_t b) {
  const uint64_t sum = a + b;
  return sum < a ? UINT64_MAX : sum;
}

int max_child_depth(const ValueList& items, bool& has_ns, uint64_t& weight) {
  int d = 0;
  for (const auto& v : items) {
    d = std::max(d, v.depth());
    has_ns = has_ns || v.holds_namespace();
    weight = add_weight(weight, v.weight());
  }
  return d;
}

int max_child_depth(const ValueDict& entries, bool& has_ns, uint64_t& weight) {
  int d = 0;
  for (const auto& [k, v] : entries) {
    d = std::max(d, v.depth());
    has_ns = has_ns || v.holds_namespace();
    weight = add_weight(weight, add_weight(v.weight(), 1 + k.size() / 64));
  }
  return d;
}

uint16_t checked_depth(int child_depth) {
  if (child_depth + 1 > kMaxValueDepth)
    throw_error(0, fmt::format("value nested deeper than {} levels", kMaxValueDepth));
  return static_cast<uint16_t>(child_depth + 1);
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      case '\b':
        out += "\\b";
        ++i;
        continue;
      case '\f':
        out += "\\f";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
      ++i;
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
      ++i;
    } else {
      auto [cp, len] = decode_utf8(s, i);
      i += len;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
    }
  }
  out += '"';
}

void append_repr_string(std::string& out, std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  out += quote;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == quote || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  out += quote;
}

void append_repr(std::string& out, const Value& v, size_t max_bytes);

void append_repr_items(std::string& out, const Value& v, size_t max_bytes) {
  if (v.kind() == Kind::kList) {
    out += '[';
    for (size_t i = 0; i < v.items().size(); ++i) {
      if (i) out += ", ";
      append_repr(out, v.items()[i], max_bytes);
      check_size(out, max_bytes);
    }
    out += ']';
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& [k, e] : v.kind() == Kind::kDict ? v.entries() : v.ns_entries()) {
    if (!first) out += ", ";
    first = false;
    append_repr_string(out, k);
    out += ": ";
    append_repr(out, e, max_bytes);
    check_size(out, max_bytes);
  }
  out += '}';
}

void append_repr(std::string& out, const Value& v, size_t max_bytes) {
  switch (v.kind()) {
    case Kind::kString:
      append_repr_string(out, v.str());
      return;
    case Kind::kList:
    case Kind::kDict:
      append_repr_items(out, v, max_bytes);
      return;
    case Kind::kUndefined:
      return;
    default:
      out += to_str(v, max_bytes);
      return;
  }
}

struct JsonWriter {
  const JsonOptions& opts;
  int line;
  size_t max_bytes;
  std::string out;

  void newline(int level) {
    if (opts.indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(opts.indent) * static_cast<size_t>(level), ' ');
  }
  std::string_view item_sep() const {
    if (opts.item_separator) return *opts.item_separator;
    return opts.indent < 0 ? ", " : ",";
  }

  void write(const Value& v, int level) {
    switch (v.kind()) {
      case Kind::kNone:
        out += "null";
        return;
      case Kind::kBool:
        out += v.as_bool() ? "true" : "false";
        return;
      case Kind::kInt:
        out += std::to_string(v.as_int());
        return;
      case Kind::kFloat:
        write_float(v.as_double());
        return;
      case Kind::kString:
        append_json_string(out, v.str(), opts.ensure_ascii);
        return;
      case Kind::kList:
        write_list(v.items(), level);
        return;
      case Kind::kDict:
        write_dict(v.entries(), level);
        return;
      default:
        throw_error(line, fmt::format("Object of type {} is not JSON serializable", type_name(v)));
    }
  }
  void write_float(double f) {
    if (std::isnan(f))
      out += "NaN";
    else if (std::isinf(f))
      out += f > 0 ? "Infinity" : "-Infinity";
    else
      out += float_repr(f);
  }
  void write_list(const ValueList& items, int level) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += item_sep();
      newline(level + 1);
      write(items[i], level + 1);
      check_size(out, max_bytes);
    }
    newline(level);
    out += ']';
  }
  void write_dict(const ValueDict& entries, int level) {
    if (entries.empty()) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<std::string, Value>*> order;
    for (const auto& e : entries) order.push_back(&e);
    if (opts.sort_keys)
      std::stable_sort(order.begin(), order.end(),
                       [](const auto* a, const auto* b) { return a->first < b->first; });
    out += '{';
    for (size_t i = 0; i < order.size(); ++i) {
      if (i) out += item_sep();
      newline(level + 1);
      append_json_string(out, order[i]->first, opts.ensure_ascii);
      out += opts.key_separator;
      write(order[i]->second, level + 1);
      check_size(out, max_bytes);
    }
    newline(level);
    out += '}';
  }
};

}  // namespace

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.f_ = f;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.weight_ = 1 + s.size() / 64;
  v.s_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::list(ValueList items) {
  Value v;
  v.kind_ = Kind::kList;
  v.depth_ = checked_depth(max_child_depth(items, v.has_ns_, v.weight_));
  v.list_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}

Value Value::dict(ValueDict entries) {
  Value v;
  v.kind_ = Kind::kDict;
  v.depth_ = checked_depth(max_child_depth(entries, v.has_ns_, v.weight_));
  v.dict_ = std::make_shared<ValueDict>(std::move(entries));
  return v;
}

Value Value::name_space(ValueDict attrs) {
  Value v = dict(std::move(attrs));
  if (v.has_ns_) throw_error(0, "a namespace cannot hold another namespace");
  v.kind_ = Kind::kNamespace;
  v.has_ns_ = true;
  return v;
}

Value Value::builtin(std::string name) {
  Value v = string(std::move(name));
  v.kind_ = Kind::kBuiltin;
  return v;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return b_;
    case Kind::kInt:
      return i_ != 0;
    case Kind::kFloat:
      return f_ != 0.0;
    case Kind::kString:
      return !s_->empty();
    case Kind::kList:
      return !list_->empty();
    case Kind::kDict:
      return !dict_->empty();
    case Kind::kNamespace:
    case Kind::kBuiltin:
      return true;
  }
  return false;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::kDict && kind_ != Kind::kNamespace) return nullptr;
  for (const auto& [k, v] : *dict_)
    if (k == key) return &v;
  return nullptr;
}

std::string_view type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kBuiltin:
      return "builtin_function";
  }
  return "object";
}

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, then Python's layout: fixed for 1e-4 <= |f| < 1e16.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  if (ec != std::errc()) return "nan";
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  const bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits += c;
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exp10);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int decpt = exp10 + 1;
  const int ndigits = static_cast<int>(digits.size());
  std::string out = negative ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (decpt >= ndigits) {
      out += digits + std::string(static_cast<size_t>(decpt - ndigits), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt)) + "." +
             digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (ndigits > 1) out += "." + digits.substr(1);
  out += fmt::format("e{}{:02d}", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return out;
}

std::string to_str(const Value& v, size_t max_bytes) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return "";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return v.as_bool() ? "True" : "False";
    case Kind::kInt:
      return std::to_string(v.as_int());
    case Kind::kFloat:
      return float_repr(v.as_double());
    case Kind::kString:
      return v.str();
    case Kind::kList:
    case Kind::kDict: {
      std::string out;
      append_repr_items(out, v, max_bytes);
      return out;
    }
    case Kind::kNamespace: {
      std::string out = "<Namespace ";
      append_repr_items(out, v, max_bytes);
      return out + ">";
    }
    case Kind::kBuiltin:
      return "<built-in function " + v.str() + ">";
  }
  return "";
}

std::string repr(const Value& v, size_t max_bytes) {
  std::string out;
  append_repr(out, v, max_bytes);
  check_size(out, max_bytes);
  return out;
}

std::string to_json(const Value& v, const JsonOptions& opts, int line, size_t max_bytes) {
  JsonWriter w{.opts = opts, .line = line, .max_bytes = max_bytes, .out = {}};
  w.write(v, 0);
  return std::move(w.out);
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::kInt && b.kind() == Kind::kInt) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  // Python: True == 1; keep bools distinct from numbers except through that rule.
  if (a.kind() == Kind::kBool && b.is_number()) return equals(Value::integer(a.as_bool()), b);
  if (b.kind() == Kind::kBool && a.is_number()) return equals(a, Value::integer(b.as_bool()));
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Kind::kString:
    case Kind::kBuiltin:
      return a.str() == b.str();
    case Kind::kList: {
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!equals(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case Kind::kDict: {
      if (a.entries().size() != b.entries().size()) return false;
      for (const auto& [k, v] : a.entries()) {
        const Value* other = b.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    case Kind::kNamespace:
      return &a.ns_entries() == &b.ns_entries();
    default:
      return false;
  }
}

int compare(const Value& a, const Value& b, int line) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::kInt && b.kind() == Kind::kInt)
      return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    const double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  throw_error(line, fmt::format("'<' not supported between instances of '{}' and '{}'",
                                type_name(a), type_name(b)));
}

std::pair<uint32_t, size_t> decode_utf8(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t len = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07;
  } else {
    return {b0, 1};
  }
  if (i + len > s.size()) return {b0, 1};
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {b0, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, len};
}

std::vector<size_t> utf8_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size();) {
    offsets.push_back(i);
    i += decode_utf8(s, i).second;
  }
  offsets.push_back(s.size());
  return offsets;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) i += decode_utf8(s, i).second;
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  core::utf8::append(cp > 0x10FFFF ? 0xFFFD : cp, out);  // an escape past Unicode: U+FFFD
}

}  // namespace sarathi::server::jinja
