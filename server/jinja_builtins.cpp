// Built-ins: the filters, tests, str/dict methods and global functions that chat templates use,
// with Python's semantics (ASCII-only case mapping; Unicode whitespace for strip/split).
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <limits>
#include <optional>

#include "server/jinja_eval.h"

namespace sarathi::server::jinja {
namespace {

/// CallArgs::get index for arguments that can only be passed by keyword.
constexpr size_t kKeywordOnly = SIZE_MAX;

[[noreturn]] void arg_error(int line, std::string_view what, std::string_view detail) {
  throw_error(line, fmt::format("{}: {}", what, detail));
}

bool is_py_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

const std::string& need_str(const Value& v, int line, std::string_view what) {
  if (!v.is_string()) arg_error(line, what, fmt::format("expected a string, got {}", type_name(v)));
  return v.str();
}

int64_t need_int(const Value& v, int line, std::string_view what) {
  if (v.kind() == Kind::kBool) return v.as_bool();
  if (v.kind() != Kind::kInt)
    arg_error(line, what, fmt::format("expected an integer, got {}", type_name(v)));
  return v.as_int();
}

bool opt_bool(const CallArgs& a, size_t idx, std::string_view name, bool dflt) {
  const Value* v = a.get(idx, name);
  return v ? v->truthy() : dflt;
}

/// Python str.strip/lstrip/rstrip: `chars` (a set of code points) or whitespace.
std::string strip(std::string_view s, const Value* chars, bool left, bool right, int line) {
  std::vector<std::string_view> set;
  const bool custom = chars && !chars->is_none() && !chars->is_undefined();
  if (custom) {
    const std::string& c = need_str(*chars, line, "strip chars");
    const auto offs = utf8_offsets(c);
    for (size_t k = 0; k + 1 < offs.size(); ++k)
      set.push_back(std::string_view(c).substr(offs[k], offs[k + 1] - offs[k]));
  }
  auto strippable = [&](std::string_view cp_bytes, uint32_t cp) {
    return custom ? std::find(set.begin(), set.end(), cp_bytes) != set.end() : is_py_space(cp);
  };
  const auto offs = utf8_offsets(s);
  size_t b = 0, e = offs.size() - 1;  // code point range [b, e)
  while (left && b < e &&
         strippable(s.substr(offs[b], offs[b + 1] - offs[b]), decode_utf8(s, offs[b]).first))
    ++b;
  while (
      right && e > b &&
      strippable(s.substr(offs[e - 1], offs[e] - offs[e - 1]), decode_utf8(s, offs[e - 1]).first))
    --e;
  return std::string(s.substr(offs[b], offs[e] - offs[b]));
}

/// Python str.split(sep=None, maxsplit=-1).
ValueList split(std::string_view s, const Value* sep, int64_t maxsplit, int line) {
  ValueList parts;
  if (sep && sep->is_string()) {
    const std::string& d = sep->str();
    if (d.empty()) throw_error(line, "split: empty separator");
    size_t pos = 0;
    for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
      const size_t hit = s.find(d, pos);
      if (hit == std::string_view::npos) break;
      parts.push_back(Value::string(std::string(s.substr(pos, hit - pos))));
      pos = hit + d.size();
    }
    parts.push_back(Value::string(std::string(s.substr(pos))));
    return parts;
  }
  size_t i = 0;
  int64_t n = 0;
  while (i < s.size()) {
    auto [cp, len] = decode_utf8(s, i);
    if (is_py_space(cp)) {
      i += len;
      continue;
    }
    if (maxsplit >= 0 && n == maxsplit) {  // the rest, with trailing whitespace stripped
      parts.push_back(Value::string(strip(s.substr(i), nullptr, false, true, line)));
      return parts;
    }
    size_t j = i;
    while (j < s.size()) {
      auto [c2, l2] = decode_utf8(s, j);
      if (is_py_space(c2)) break;
      j += l2;
    }
    parts.push_back(Value::string(std::string(s.substr(i, j - i))));
    ++n;
    i = j;
  }
  return parts;
}

std::string title_case(std::string_view s) {
  std::string out(s);
  bool prev_cased = false;
  for (char& c : out) {
    if (ascii_alpha(c)) {
      c = prev_cased ? ascii_lower(c) : ascii_upper(c);
      prev_cased = true;
    } else {
      prev_cased = static_cast<unsigned char>(c) >= 0x80;  // keep non-ASCII words intact
    }
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = i == 0 ? ascii_upper(out[i]) : ascii_lower(out[i]);
  return out;
}

/// Python str.replace(old, new, count).
std::string replace(Renderer& r, std::string_view s, std::string_view from, std::string_view to,
                    int64_t count, int line) {
  std::string out;
  int64_t done = 0;
  auto room = [&] { return count < 0 || done < count; };
  if (from.empty()) {
    const auto offs = utf8_offsets(s);
    for (size_t k = 0; k + 1 < offs.size(); ++k) {
      if (room()) out.append(to), ++done;
      out.append(s.substr(offs[k], offs[k + 1] - offs[k]));
      if (out.size() > r.limits().max_value_bytes) r.charge_value_bytes(out.size(), line);
    }
    if (room()) out.append(to);
    return out;
  }
  size_t pos = 0;
  while (room()) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos)).append(to);
    pos = hit + from.size();
    ++done;
    if (out.size() > r.limits().max_value_bytes) r.charge_value_bytes(out.size(), line);
  }
  out.append(s.substr(pos));
  return out;
}

size_t length_of(const Value& v, int line) {
  switch (v.kind()) {
    case Kind::kString:
      return utf8_length(v.str());
    case Kind::kList:
      return v.items().size();
    case Kind::kDict:
      return v.entries().size();
    case Kind::kUndefined:
      return 0;
    default:
      throw_error(line, fmt::format("object of type '{}' has no len()", type_name(v)));
  }
}

/// Follows a dotted attribute path ("function.name", "0.role") as Jinja's attribute= does.
Value attr_path(Renderer& r, const Value& v, const std::string& path, int line) {
  Value cur = v;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits =
        !part.empty() && part.size() < 18 &&
        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = digits ? get_item(r, cur, Value::integer(std::stoll(part)), line) : get_attr(cur, part);
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value make_list(Renderer& r, ValueList items, int line) {
  r.charge_list(items.size(), line);
  return Value::list(std::move(items));
}

Value filter_tojson(Renderer& r, const Value& v, const CallArgs& a) {
  JsonOptions o;
  if (const Value* indent = a.get(0, "indent"); indent && !indent->is_none()) {
    const int64_t n = need_int(*indent, a.line, "tojson indent");
    if (n < 0 || n > 64) arg_error(a.line, "tojson", "indent must be in [0, 64]");
    o.indent = static_cast<int>(n);
  }
  o.sort_keys = opt_bool(a, kKeywordOnly, "sort_keys", false);
  o.ensure_ascii = opt_bool(a, kKeywordOnly, "ensure_ascii", false);
  if (const Value* sep = a.get(kKeywordOnly, "separators"); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->items().size() != 2)
      arg_error(a.line, "tojson", "separators must be a pair of strings");
    o.item_separator = need_str(sep->items()[0], a.line, "tojson separators");
    o.key_separator = need_str(sep->items()[1], a.line, "tojson separators");
  }
  r.tick(a.line, v.weight());
  std::string s = to_json(v, o, a.line, r.limits().max_value_bytes);
  r.charge_value_bytes(s.size(), a.line);
  return Value::string(std::move(s));
}

Value filter_join(Renderer& r, const Value& v, const CallArgs& a) {
  const Value* sep = a.get(0, "d");
  const Value* attribute = a.get(1, "attribute");
  const std::string d = sep ? checked_str(r, *sep, a.line) : "";
  std::string out;
  bool first = true;
  for (const Value& item : iterate(r, v, a.line)) {
    if (!first) out += d;
    first = false;
    const Value x =
        attribute ? attr_path(r, item, checked_str(r, *attribute, a.line), a.line) : item;
    out += checked_str(r, x, a.line);
    if (out.size() > r.limits().max_value_bytes) r.charge_value_bytes(out.size(), a.line);
  }
  r.charge_value_bytes(out.size(), a.line);
  return Value::string(std::move(out));
}

Value filter_int(const Value& v, const CallArgs& a) {
  const Value* dflt = a.get(0, "default");
  const Value fallback = dflt ? *dflt : Value::integer(0);
  double d = 0;
  switch (v.kind()) {
    case Kind::kInt:
      return v;
    case Kind::kBool:
      return Value::integer(v.as_bool());
    case Kind::kFloat:
      d = v.as_double();
      break;
    case Kind::kString: {
      const std::string t = strip(v.str(), nullptr, true, true, a.line);
      char* end = nullptr;
      errno = 0;
      const long long i = std::strtoll(t.c_str(), &end, 10);
      if (!t.empty() && *end == '\0' && errno == 0) return Value::integer(i);
      d = std::strtod(t.c_str(), &end);
      if (t.empty() || *end != '\0') return fallback;
      break;
    }
    default:
      return fallback;
  }
  if (!std::isfinite(d) || d >= 9.2e18 || d <= -9.2e18) return fallback;
  return Value::integer(static_cast<int64_t>(d));
}

Value filter_float(const Value& v, const CallArgs& a) {
  const Value* dflt = a.get(0, "default");
  const Value fallback = dflt ? *dflt : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.kind() == Kind::kBool) return Value::number(v.as_bool());
  if (!v.is_string()) return fallback;
  const std::string t = strip(v.str(), nullptr, true, true, a.line);
  char* end = nullptr;
  const double d = std::strtod(t.c_str(), &end);
  return (!t.empty() && *end == '\0') ? Value::number(d) : fallback;
}

Value filter_round(const Value& v, const CallArgs& a) {
  if (!v.is_number()) arg_error(a.line, "round", "expected a number");
  const Value* p = a.get(0, "precision");
  const int64_t precision = p ? need_int(*p, a.line, "round precision") : 0;
  if (precision < -20 || precision > 20) arg_error(a.line, "round", "precision out of range");
  const Value* m = a.get(1, "method");
  const std::string method = m ? need_str(*m, a.line, "round method") : "common";
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  double y = 0;
  if (method == "common")
    y = std::nearbyint(x);
  else if (method == "floor")
    y = std::floor(x);
  else if (method == "ceil")
    y = std::ceil(x);
  else
    arg_error(a.line, "round", "method must be common, floor or ceil");
  return Value::number(y / scale);
}

Value filter_indent(Renderer& r, const Value& v, const CallArgs& a) {
  const std::string s = checked_str(r, v, a.line) + "\n";
  const Value* w = a.get(0, "width");
  std::string pad = "    ";
  if (w && w->is_string())
    pad = w->str();
  else if (w)
    pad.assign(static_cast<size_t>(std::clamp<int64_t>(need_int(*w, a.line, "indent"), 0, 256)),
               ' ');
  const bool first = opt_bool(a, 1, "first", false);
  const bool blank = opt_bool(a, 2, "blank", false);
  std::vector<std::string_view> lines;
  std::string_view rest(s);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    if ((i > 0 || first) && (blank || !lines[i].empty())) out += pad;
    out += lines[i];
    if (out.size() > r.limits().max_value_bytes) r.charge_value_bytes(out.size(), a.line);
  }
  r.charge_value_bytes(out.size(), a.line);
  return Value::string(std::move(out));
}

Value filter_repeat(Renderer& r, const Value& v, const CallArgs& a) {
  if (a.args.empty()) arg_error(a.line, "*", "needs a count");
  const int64_t n = std::max<int64_t>(0, need_int(a.args[0], a.line, "*"));
  const size_t unit = v.is_string() ? v.str().size() : v.items().size();
  size_t total = 0;
  if (__builtin_mul_overflow(unit, static_cast<size_t>(n), &total)) total = SIZE_MAX;
  if (v.is_string()) {
    r.charge_value_bytes(total, a.line);
    std::string out;
    out.reserve(total);
    for (int64_t i = 0; i < n; ++i) out += v.str();
    return Value::string(std::move(out));
  }
  r.charge_list(total, a.line);
  ValueList items;
  for (int64_t i = 0; i < n; ++i) items.insert(items.end(), v.items().begin(), v.items().end());
  return Value::list(std::move(items));
}

Value filter_map(Renderer& r, const Value& v, const CallArgs& a) {
  ValueList out;
  const Value* attribute = a.get(kKeywordOnly, "attribute");
  for (const Value& item : iterate(r, v, a.line)) {
    r.tick(a.line);
    if (attribute) {
      Value x = attr_path(r, item, checked_str(r, *attribute, a.line), a.line);
      if (x.is_undefined())
        if (const Value* d = a.get(kKeywordOnly, "default")) x = *d;
      out.push_back(std::move(x));
    } else {
      if (a.args.empty()) arg_error(a.line, "map", "needs a filter name or attribute=");
      CallArgs rest{.args = {a.args.begin() + 1, a.args.end()}, .kwargs = {}, .line = a.line};
      out.push_back(apply_filter(r, need_str(a.args[0], a.line, "map"), item, rest));
    }
  }
  return make_list(r, std::move(out), a.line);
}

/// select / reject / selectattr / rejectattr.
Value filter_select(Renderer& r, const Value& v, const CallArgs& a, bool by_attr, bool keep) {
  size_t idx = 0;
  std::string attribute;
  if (by_attr) {
    if (a.args.empty()) arg_error(a.line, "selectattr", "needs an attribute name");
    attribute = need_str(a.args[idx++], a.line, "selectattr");
  }
  std::string test;
  if (idx < a.args.size()) test = need_str(a.args[idx++], a.line, "select test");
  const CallArgs test_args{.args = {a.args.begin() + static_cast<ptrdiff_t>(idx), a.args.end()},
                           .kwargs = {},
                           .line = a.line};
  ValueList out;
  for (const Value& item : iterate(r, v, a.line)) {
    r.tick(a.line);
    const Value x = by_attr ? attr_path(r, item, attribute, a.line) : item;
    const bool pass = test.empty() ? x.truthy() : apply_test(r, test, x, test_args);
    if (pass == keep) out.push_back(item);
  }
  return make_list(r, std::move(out), a.line);
}

Value filter_sort(Renderer& r, const Value& v, const CallArgs& a) {
  const bool reverse = opt_bool(a, 0, "reverse", false);
  const bool case_sensitive = opt_bool(a, 1, "case_sensitive", false);
  const Value* attribute = a.get(2, "attribute");
  ValueList items = iterate(r, v, a.line);
  r.tick(a.line, items.size() * 16);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) {
    Value k =
        attribute ? attr_path(r, items[i], checked_str(r, *attribute, a.line), a.line) : items[i];
    if (k.is_string() && !case_sensitive) {
      std::string low = k.str();
      for (char& c : low) c = ascii_lower(c);
      k = Value::string(std::move(low));
    }
    keyed.emplace_back(std::move(k), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    const int c = compare(x.first, y.first, a.line);
    return reverse ? c > 0 : c < 0;
  });
  ValueList out;
  for (const auto& [k, i] : keyed) out.push_back(items[i]);
  return make_list(r, std::move(out), a.line);
}

Value filter_items(Renderer& r, const Value& v, int line) {
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict())
    throw_error(line, fmt::format("items: expected a mapping, got {}", type_name(v)));
  ValueList out;
  for (const auto& [k, x] : v.entries()) out.push_back(Value::list({Value::string(k), x}));
  return make_list(r, std::move(out), line);
}

Value first_or_last(Renderer& r, const Value& v, bool first, int line) {
  if (v.is_undefined()) return Value();
  const ValueList items = iterate(r, v, line);
  if (items.empty()) return Value();
  return first ? items.front() : items.back();
}

Value filter_reverse(Renderer& r, const Value& v, int line) {
  if (v.is_string()) {
    const auto offs = utf8_offsets(v.str());
    std::string out;
    for (size_t k = offs.size() - 1; k > 0; --k)
      out.append(v.str(), offs[k - 1], offs[k] - offs[k - 1]);
    return Value::string(std::move(out));
  }
  ValueList items = iterate(r, v, line);
  std::reverse(items.begin(), items.end());
  return make_list(r, std::move(items), line);
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Filters whose result is a string derived from str(v).
bool string_filter(Renderer& r, std::string_view name, const Value& v, const CallArgs& a,
                   Value& out) {
  auto str = [&] { return checked_str(r, v, a.line); };
  if (name == "trim")
    out = Value::string(strip(str(), a.get(0, "chars"), true, true, a.line));
  else if (name == "upper") {
    std::string s = str();
    for (char& c : s) c = ascii_upper(c);
    out = Value::string(std::move(s));
  } else if (name == "lower") {
    std::string s = str();
    for (char& c : s) c = ascii_lower(c);
    out = Value::string(std::move(s));
  } else if (name == "capitalize")
    out = Value::string(capitalize(str()));
  else if (name == "title")
    out = Value::string(title_case(str()));
  else if (name == "string")
    out = v.is_string() ? v : Value::string(str());
  else if (name == "escape" || name == "e")
    out = Value::string(html_escape(str()));
  else if (name == "replace") {
    if (a.args.size() < 2) arg_error(a.line, "replace", "needs old and new strings");
    const Value* count = a.get(2, "count");
    const int64_t n = count && !count->is_none() ? need_int(*count, a.line, "replace count") : -1;
    out = Value::string(replace(r, str(), checked_str(r, a.args[0], a.line),
                                checked_str(r, a.args[1], a.line), n, a.line));
  } else {
    return false;
  }
  if (out.is_string()) r.charge_value_bytes(out.str().size(), a.line);
  return true;
}

}  // namespace

Value get_attr(const Value& obj, std::string_view name) {
  const Value* found = obj.find(name);
  return found ? *found : Value();
}

Value get_item(Renderer& r, const Value& obj, const Value& key, int line) {
  if (key.is_string()) return get_attr(obj, key.str());
  if (key.kind() != Kind::kInt) return Value();
  int64_t i = key.as_int();
  if (obj.is_list()) {
    const auto n = static_cast<int64_t>(obj.items().size());
    if (i < 0) i += n;
    return (i >= 0 && i < n) ? obj.items()[static_cast<size_t>(i)] : Value();
  }
  if (obj.is_string()) {
    r.tick(line, obj.str().size() / 64);
    const auto offs = utf8_offsets(obj.str());
    const auto n = static_cast<int64_t>(offs.size()) - 1;
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value();
    const auto u = static_cast<size_t>(i);
    return Value::string(obj.str().substr(offs[u], offs[u + 1] - offs[u]));
  }
  return Value();
}

ValueList iterate(Renderer& r, const Value& v, int line) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return {};
    case Kind::kList:
      r.charge_list(v.items().size(), line);
      return v.items();
    case Kind::kDict: {
      r.charge_list(v.entries().size(), line);
      ValueList keys;
      for (const auto& [k, x] : v.entries()) keys.push_back(Value::string(k));
      return keys;
    }
    case Kind::kString: {
      r.charge_list(utf8_length(v.str()), line);  // before building one Value per character
      const auto offs = utf8_offsets(v.str());
      ValueList chars;
      for (size_t k = 0; k + 1 < offs.size(); ++k)
        chars.push_back(Value::string(v.str().substr(offs[k], offs[k + 1] - offs[k])));
      return chars;
    }
    default:
      throw_error(line, fmt::format("'{}' object is not iterable", type_name(v)));
  }
}

std::string checked_str(Renderer& r, const Value& v, int line) {
  if (v.is_string()) return v.str();
  r.tick(line, v.weight());
  std::string s = to_str(v, r.limits().max_value_bytes);
  r.charge_value_bytes(s.size(), line);
  return s;
}

Value apply_filter(Renderer& r, std::string_view name, const Value& v, const CallArgs& a) {
  Value out;
  if (string_filter(r, name, v, a, out)) return out;
  if (name == "length" || name == "count")
    return Value::integer(static_cast<int64_t>(length_of(v, a.line)));
  if (name == "tojson") return filter_tojson(r, v, a);
  if (name == "default" || name == "d") {
    const Value* dflt = a.get(0, "default_value");
    const bool boolean = opt_bool(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) return dflt ? *dflt : Value::string("");
    return v;
  }
  if (name == "first" || name == "last") return first_or_last(r, v, name == "first", a.line);
  if (name == "join") return filter_join(r, v, a);
  if (name == "list") return make_list(r, iterate(r, v, a.line), a.line);
  if (name == "items") return filter_items(r, v, a.line);
  if (name == "int") return filter_int(v, a);
  if (name == "float") return filter_float(v, a);
  if (name == "round") return filter_round(v, a);
  if (name == "abs") {
    if (v.kind() == Kind::kInt && v.as_int() != std::numeric_limits<int64_t>::min())
      return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
    if (v.kind() == Kind::kFloat) return Value::number(std::fabs(v.as_double()));
    arg_error(a.line, "abs", fmt::format("bad operand type '{}'", type_name(v)));
  }
  if (name == "safe") return v;
  if (name == "indent") return filter_indent(r, v, a);
  if (name == "reverse") return filter_reverse(r, v, a.line);
  if (name == "sort") return filter_sort(r, v, a);
  if (name == "map") return filter_map(r, v, a);
  if (name == "select" || name == "reject") return filter_select(r, v, a, false, name == "select");
  if (name == "selectattr" || name == "rejectattr")
    return filter_select(r, v, a, true, name == "selectattr");
  if (name == "__repeat__") return filter_repeat(r, v, a);
  throw_error(a.line, fmt::format("unknown filter '{}'", name));
}

/// The tests that only look at the value's type; nullopt for other test names.
static std::optional<bool> type_test(std::string_view name, const Value& v) {
  const Kind k = v.kind();
  if (name == "defined") return k != Kind::kUndefined;
  if (name == "undefined") return k == Kind::kUndefined;
  if (name == "none") return k == Kind::kNone;
  if (name == "boolean") return k == Kind::kBool;
  if (name == "true") return k == Kind::kBool && v.as_bool();
  if (name == "false") return k == Kind::kBool && !v.as_bool();
  if (name == "integer") return k == Kind::kInt;
  if (name == "float") return k == Kind::kFloat;
  if (name == "number") return k == Kind::kInt || k == Kind::kFloat || k == Kind::kBool;
  if (name == "string") return k == Kind::kString;
  if (name == "mapping") return k == Kind::kDict;
  if (name == "iterable" || name == "sequence")  // Jinja's Undefined is iterable (and empty)
    return k == Kind::kList || k == Kind::kDict || k == Kind::kString || k == Kind::kUndefined;
  if (name == "callable") return k == Kind::kBuiltin;
  return std::nullopt;
}

bool apply_test(Renderer& r, std::string_view name, const Value& v, const CallArgs& a) {
  if (const auto by_type = type_test(name, v)) return *by_type;
  auto arg = [&]() -> const Value& {
    if (a.args.empty()) arg_error(a.line, "test", fmt::format("'{}' needs an argument", name));
    return a.args[0];
  };
  if (name == "lower" || name == "upper") {  // str.islower() / str.isupper(), ASCII letters
    if (!v.is_string()) return false;
    bool cased = false;
    for (char c : v.str()) {
      if (!ascii_alpha(c)) continue;
      cased = true;
      if ((name == "lower") != (ascii_lower(c) == c)) return false;
    }
    return cased;
  }
  if (name == "odd" || name == "even") {
    const int64_t i = need_int(v, a.line, name);
    return (i % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = need_int(arg(), a.line, name);
    const int64_t i = need_int(v, a.line, name);
    return d != 0 && (d == -1 || i % d == 0);
  }
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") {
    r.tick(a.line, v.weight());
    return equals(v, arg()) && (name != "sameas" || v.kind() == arg().kind());
  }
  if (name == "ne" || name == "!=") return !equals(v, arg());
  if (name == "lt" || name == "<" || name == "lessthan") return compare(v, arg(), a.line) < 0;
  if (name == "le" || name == "<=") return compare(v, arg(), a.line) <= 0;
  if (name == "gt" || name == ">" || name == "greaterthan") return compare(v, arg(), a.line) > 0;
  if (name == "ge" || name == ">=") return compare(v, arg(), a.line) >= 0;
  if (name == "in") {
    const Value& seq = arg();
    r.tick(a.line, seq.weight());
    if (seq.is_string()) return v.is_string() && seq.str().find(v.str()) != std::string::npos;
    if (seq.is_dict() || seq.kind() == Kind::kNamespace) return v.is_string() && seq.find(v.str());
    if (seq.is_list())
      return std::any_of(seq.items().begin(), seq.items().end(),
                         [&](const Value& x) { return equals(v, x); });
    if (seq.is_undefined()) return false;
    throw_error(a.line, fmt::format("argument of type '{}' is not iterable", type_name(seq)));
  }
  throw_error(a.line, fmt::format("unknown test '{}'", name));
}

Value call_method(Renderer& r, const Value& obj, std::string_view name, const CallArgs& a) {
  const int line = a.line;
  if (obj.is_string()) {
    const std::string& s = obj.str();
    r.tick(line, s.size() / 64);
    Value out;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      out = Value::string(strip(s, a.get(0, "chars"), name != "rstrip", name != "lstrip", line));
    } else if (name == "split") {
      const Value* maxsplit = a.get(1, "maxsplit");
      return make_list(
          r, split(s, a.get(0, "sep"), maxsplit ? need_int(*maxsplit, line, "split") : -1, line),
          line);
    } else if (name == "startswith" || name == "endswith") {
      const Value& p = a.args.empty() ? Value() : a.args[0];
      const ValueList options = p.is_list() ? p.items() : ValueList{p};
      for (const Value& o : options) {
        const std::string& x = need_str(o, line, name);
        const bool hit =
            name == "startswith"
                ? s.compare(0, x.size(), x) == 0
                : s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    } else if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
               name == "replace") {
      return apply_filter(r, name, obj, a);
    } else if (name == "join") {
      return filter_join(r, a.args.empty() ? Value() : a.args[0],
                         CallArgs{.args = {obj}, .kwargs = {}, .line = line});
    } else {
      throw_error(line, fmt::format("'str' object has no attribute '{}'", name));
    }
    return out;
  }
  if (obj.is_dict()) {
    if (name == "items") return filter_items(r, obj, line);
    if (name == "keys") return make_list(r, iterate(r, obj, line), line);
    if (name == "values") {
      ValueList vals;
      for (const auto& [k, x] : obj.entries()) vals.push_back(x);
      return make_list(r, std::move(vals), line);
    }
    if (name == "get") {
      if (a.args.empty()) arg_error(line, "get", "needs a key");
      const Value found = get_item(r, obj, a.args[0], line);
      if (!found.is_undefined()) return found;
      return a.args.size() > 1 ? a.args[1] : Value::none();
    }
  }
  throw_error(line, fmt::format("'{}' object has no method '{}'", type_name(obj), name));
}

const std::vector<std::string>& builtin_names() {
  static const std::vector<std::string> kNames = {"range", "namespace", "dict", "raise_exception",
                                                  "strftime_now"};
  return kNames;
}

Value call_builtin(Renderer& r, std::string_view name, const CallArgs& a) {
  const int line = a.line;
  if (name == "raise_exception") {
    const std::string msg =
        a.args.empty() ? "raise_exception() called" : checked_str(r, a.args[0], line);
    throw JinjaError{.message = msg, .line = line, .user_error = true};
  }
  if (name == "range") {
    if (a.args.empty() || a.args.size() > 3) arg_error(line, "range", "takes 1 to 3 integers");
    int64_t start = 0, stop = 0, step = 1;
    if (a.args.size() == 1)
      stop = need_int(a.args[0], line, "range");
    else
      start = need_int(a.args[0], line, "range"), stop = need_int(a.args[1], line, "range");
    if (a.args.size() == 3) step = need_int(a.args[2], line, "range");
    if (step == 0) arg_error(line, "range", "step must not be zero");
    ValueList items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
      if (items.size() >= r.limits().max_list_items) r.charge_list(items.size() + 1, line);
      items.push_back(Value::integer(i));
      if (__builtin_add_overflow(i, step, &i)) break;
    }
    return make_list(r, std::move(items), line);
  }
  if (name == "namespace" || name == "dict") {
    ValueDict entries;
    if (!a.args.empty()) {
      if (!a.args[0].is_dict()) arg_error(line, name, "positional argument must be a dict");
      entries = a.args[0].entries();
    }
    for (const auto& [k, v] : a.kwargs) entries.emplace_back(k, v);
    r.charge_list(entries.size(), line);
    return name == "dict" ? Value::dict(std::move(entries)) : Value::name_space(std::move(entries));
  }
  if (name == "strftime_now") {
    const std::string fmt_str = a.args.empty() ? "" : need_str(a.args[0], line, "strftime_now");
    for (size_t i = 0; i < fmt_str.size(); ++i) {
      if (fmt_str[i] != '%') continue;
      if (++i >= fmt_str.size() ||
          std::string_view("aAbBdHIjmMpSyYeZz%").find(fmt_str[i]) == std::string_view::npos)
        arg_error(line, "strftime_now", "unsupported format");
    }
    if (fmt_str.size() > 256) arg_error(line, "strftime_now", "format too long");
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[1024];
    const size_t n = std::strftime(buf, sizeof(buf), fmt_str.c_str(), &tm);
    return Value::string(std::string(buf, n));
  }
  throw_error(line, fmt::format("'{}' is not callable", name));
}

}  // namespace sarathi::server::jinja
