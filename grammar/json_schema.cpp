#include "grammar/json_schema.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

#include "grammar/grammar.h"
#include "grammar/regex.h"

namespace sarathi::grammar {
namespace {

using Json = nlohmann::ordered_json;
using core::ErrorCode;
using core::make_error;

constexpr int kMaxDepth = 64;
constexpr int64_t kMaxBound = 10000;  // minLength/maxLength/minItems/maxItems we expand

// Shared rules, emitted when used. The string body keeps plain characters in one class-star so
// a string's content is one matcher position.
const std::map<std::string, std::string, std::less<>> kPrimitives = {
    {"sp", "\" \"?"},
    {"char", "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})"},
    {"string",
     "\"\\\"\" [^\"\\\\\\x00-\\x1F]* (\"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) "
     "[^\"\\\\\\x00-\\x1F]*)* \"\\\"\""},
    {"integer", "\"-\"? (\"0\" | [1-9] [0-9]{0,15})"},
    {"number", "integer (\".\" [0-9]+)? ([eE] [-+]? [0-9]{1,2})?"},
    {"boolean", "\"true\" | \"false\""},
    {"null", "\"null\""},
    {"value", "object | array | string | number | boolean | null"},
    {"object", "\"{\" (string \":\" sp value (\",\" sp string \":\" sp value)*)? \"}\""},
    {"array", "\"[\" (value (\",\" sp value)*)? \"]\""},
    {"date",
     "[0-9]{4} \"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01])"},
    {"time",
     "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? "
     "(\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])"},
    {"date-time", "date \"T\" time"},
    {"uuid",
     "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" "
     "[0-9a-fA-F]{12}"},
};

// What each shared rule uses.
const std::map<std::string, std::vector<std::string>, std::less<>> kUses = {
    {"number", {"integer"}},
    {"value", {"object", "array", "string", "number", "boolean", "null"}},
    {"object", {"string", "sp", "value"}},
    {"array", {"value", "sp"}},
    {"date-time", {"date", "time"}},
};

const std::set<std::string, std::less<>> kRefused = {"minimum",
                                                     "maximum",
                                                     "exclusiveMinimum",
                                                     "exclusiveMaximum",
                                                     "multipleOf",
                                                     "patternProperties",
                                                     "propertyNames",
                                                     "minProperties",
                                                     "maxProperties",
                                                     "dependentRequired",
                                                     "dependentSchemas",
                                                     "dependencies",
                                                     "contains",
                                                     "minContains",
                                                     "maxContains",
                                                     "not",
                                                     "if",
                                                     "then",
                                                     "else",
                                                     "unevaluatedProperties",
                                                     "unevaluatedItems",
                                                     "additionalItems",
                                                     "$dynamicRef",
                                                     "$recursiveRef"};

std::string escape_pointer_token(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

class Compiler {
 public:
  Compiler(const Json& root, std::string root_name, std::string prefix)
      : root_(root), root_name_(std::move(root_name)), prefix_(std::move(prefix)) {}

  core::Result<std::string> run() {
    SARATHI_ASSIGN_OR_RETURN(std::string expr, visit(root_, "", 0));
    std::string out = root_name_ + " ::= " + expr + "\n";
    for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
    return out;
  }

 private:
  core::Error fail(const std::string& path, const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument, "at {}: {}", path.empty() ? "/" : path, what);
  }

  std::string use(const std::string& primitive) {
    if (rules_.count(primitive)) return primitive;
    rules_[primitive] = kPrimitives.at(primitive);
    if (auto it = kUses.find(primitive); it != kUses.end())
      for (const std::string& dep : it->second) use(dep);
    return primitive;
  }

  std::string new_rule(const std::string& hint, const std::string& body) {
    std::string base = prefix_ + "s";
    for (char c : hint) base += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
    if (base.size() > 40 + prefix_.size()) base.resize(40 + prefix_.size());
    std::string name = base;
    for (int i = 2; rules_.count(name) || kPrimitives.count(name); ++i)
      name = fmt::format("{}-{}", base, i);
    rules_[name] = body;
    return name;
  }

  static std::string literal_json(const Json& v) { return gbnf_literal(v.dump()); }

  core::Result<std::string> visit(const Json& s, const std::string& path, int depth) {
    if (depth > kMaxDepth) return fail(path, "the schema is nested too deeply");
    if (s.is_boolean()) {
      if (!s.get<bool>()) return fail(path, "the schema 'false' matches nothing");
      return use("value");
    }
    if (!s.is_object()) return fail(path, "a schema must be an object or a boolean");
    for (const auto& [key, v] : s.items()) {
      if (kRefused.count(key)) return fail(path, fmt::format("'{}' is not supported", key));
      if (key == "uniqueItems" && v != false) return fail(path, "'uniqueItems' is not supported");
    }
    if (auto it = s.find("$ref"); it != s.end()) return ref(*it, path, depth);
    if (auto it = s.find("allOf"); it != s.end()) {
      if (!it->is_array() || it->size() != 1)
        return fail(path + "/allOf", "only 'allOf' with exactly one schema is supported");
      return visit((*it)[0], path + "/allOf/0", depth + 1);
    }
    for (const char* key : {"anyOf", "oneOf"})
      if (auto it = s.find(key); it != s.end()) {
        if (!it->is_array() || it->empty())
          return fail(path + "/" + key, fmt::format("'{}' must be a non-empty array", key));
        std::string alts;
        for (size_t i = 0; i < it->size(); ++i) {
          SARATHI_ASSIGN_OR_RETURN(
              std::string a, visit((*it)[i], fmt::format("{}/{}/{}", path, key, i), depth + 1));
          alts += (i ? " | " : "") + a;
        }
        return new_rule(path, alts);
      }
    if (auto it = s.find("const"); it != s.end()) return new_rule(path, literal_json(*it));
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array() || it->empty())
        return fail(path + "/enum", "'enum' must be a non-empty array");
      std::string alts;
      for (size_t i = 0; i < it->size(); ++i) alts += (i ? " | " : "") + literal_json((*it)[i]);
      return new_rule(path, alts);
    }
    auto type = s.find("type");
    if (type == s.end()) {  // infer from the keywords present, else any value
      if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required"))
        return object(s, path, depth);
      if (s.contains("items") || s.contains("prefixItems")) return array(s, path, depth);
      if (s.contains("pattern") || s.contains("format") || s.contains("minLength") ||
          s.contains("maxLength"))
        return string(s, path);
      return use("value");
    }
    if (type->is_array()) {
      if (type->empty()) return fail(path + "/type", "'type' must not be empty");
      std::string alts;
      for (size_t i = 0; i < type->size(); ++i) {
        if (!(*type)[i].is_string()) return fail(path + "/type", "'type' must hold strings");
        SARATHI_ASSIGN_OR_RETURN(std::string a,
                                 typed(s, (*type)[i].get<std::string>(), path, depth));
        alts += (i ? " | " : "") + a;
      }
      return new_rule(path, alts);
    }
    if (!type->is_string()) return fail(path + "/type", "'type' must be a string or an array");
    return typed(s, type->get<std::string>(), path, depth);
  }

  core::Result<std::string> typed(const Json& s, const std::string& t, const std::string& path,
                                  int depth) {
    if (t == "object") return object(s, path, depth);
    if (t == "array") return array(s, path, depth);
    if (t == "string") return string(s, path);
    if (t == "integer" || t == "number" || t == "boolean" || t == "null") return use(t);
    return fail(path + "/type", fmt::format("unknown type '{}'", t));
  }

  core::Result<std::string> ref(const Json& r, const std::string& path, int depth) {
    if (!r.is_string()) return fail(path + "/$ref", "'$ref' must be a string");
    const std::string target = r.get<std::string>();
    if (auto it = refs_.find(target); it != refs_.end()) return it->second;
    if (target.empty() || target[0] != '#')
      return fail(path + "/$ref",
                  fmt::format("only local references ('#/...') are supported, got '{}'", target));
    const Json* node = nullptr;
    try {
      node = &root_.at(Json::json_pointer(target.substr(1)));
    } catch (const Json::exception&) {
      return fail(path + "/$ref", fmt::format("'{}' does not point into the schema", target));
    }
    // Name the rule first so recursive references find it.
    const std::string name = new_rule("ref" + target.substr(1), "\"\"");
    refs_[target] = name;
    SARATHI_ASSIGN_OR_RETURN(std::string body, visit(*node, target.substr(1), depth + 1));
    rules_[name] = body;
    return name;
  }

  core::Result<std::optional<int64_t>> bound(const Json& s, const char* key,
                                             const std::string& path) {
    auto it = s.find(key);
    if (it == s.end()) return std::optional<int64_t>();
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      return fail(path + "/" + key, fmt::format("'{}' must be a non-negative integer", key));
    if (it->get<int64_t>() > kMaxBound)
      return fail(path + "/" + key, fmt::format("'{}' above {} is not supported", key, kMaxBound));
    return std::optional<int64_t>(it->get<int64_t>());
  }

  static std::string repeat(int64_t lo, std::optional<int64_t> hi) {
    return hi ? fmt::format("{{{},{}}}", lo, *hi) : fmt::format("{{{},}}", lo);
  }

  core::Result<std::string> string(const Json& s, const std::string& path) {
    SARATHI_ASSIGN_OR_RETURN(auto lo, bound(s, "minLength", path));
    SARATHI_ASSIGN_OR_RETURN(auto hi, bound(s, "maxLength", path));
    if (lo && hi && *lo > *hi) return fail(path, "'minLength' is above 'maxLength'");
    auto format = s.find("format");
    auto pattern = s.find("pattern");
    if ((format != s.end()) + (pattern != s.end()) + (lo || hi) > 1)
      return fail(path, "combining 'format', 'pattern' and length bounds is not supported");
    if (pattern != s.end()) {
      if (!pattern->is_string()) return fail(path + "/pattern", "'pattern' must be a string");
      auto expr = regex_to_gbnf_expr(pattern->get<std::string>(), {.json_string = true});
      if (!expr.ok()) return fail(path + "/pattern", expr.error().message);
      return new_rule(path, "\"\\\"\" " + *expr + " \"\\\"\"");
    }
    if (format != s.end()) {
      if (!format->is_string()) return fail(path + "/format", "'format' must be a string");
      const std::string f = format->get<std::string>();
      if (f != "date" && f != "time" && f != "date-time" && f != "uuid")
        return fail(path + "/format",
                    fmt::format("format '{}' is not supported (date, time, date-time, uuid)", f));
      return new_rule(path, "\"\\\"\" " + use(f) + " \"\\\"\"");
    }
    if (lo || hi) {
      use("char");
      return new_rule(path, "\"\\\"\" char" + repeat(lo.value_or(0), hi) + " \"\\\"\"");
    }
    return use("string");
  }

  core::Result<std::string> array(const Json& s, const std::string& path, int depth) {
    SARATHI_ASSIGN_OR_RETURN(auto lo_opt, bound(s, "minItems", path));
    SARATHI_ASSIGN_OR_RETURN(auto hi, bound(s, "maxItems", path));
    int64_t lo = lo_opt.value_or(0);
    if (hi && lo > *hi) return fail(path, "'minItems' is above 'maxItems'");
    std::vector<std::string> prefix;
    if (auto it = s.find("prefixItems"); it != s.end()) {
      if (!it->is_array()) return fail(path + "/prefixItems", "'prefixItems' must be an array");
      for (size_t i = 0; i < it->size(); ++i) {
        SARATHI_ASSIGN_OR_RETURN(
            std::string p, visit((*it)[i], fmt::format("{}/prefixItems/{}", path, i), depth + 1));
        prefix.push_back(p);
      }
    }
    std::optional<std::string> item;  // nullopt: no items beyond the prefix
    auto items = s.find("items");
    if (items == s.end()) {
      if (prefix.empty()) item = use("value");
    } else if (!(items->is_boolean() && !items->get<bool>())) {
      SARATHI_ASSIGN_OR_RETURN(std::string i, visit(*items, path + "/items", depth + 1));
      item = i;
    }
    use("sp");
    const auto n = static_cast<int64_t>(prefix.size());
    if (!prefix.empty()) {
      // The tuple (all of it: a shorter one would need per-length alternatives), then items.
      if (hi && *hi < n) return fail(path, "'maxItems' is below the number of 'prefixItems'");
      std::string body = "\"[\"";
      for (size_t i = 0; i < prefix.size(); ++i) body += (i ? " \",\" sp " : " ") + prefix[i];
      const int64_t more_lo = std::max<int64_t>(0, lo - n);
      if (item) {
        std::optional<int64_t> more_hi;
        if (hi) more_hi = *hi - n;
        if (!more_hi || *more_hi > 0)
          body += " (\",\" sp " + *item + ")" + repeat(more_lo, more_hi);
      } else if (more_lo > 0) {
        return fail(path, "'minItems' needs more items than 'prefixItems' allows");
      }
      return new_rule(path, body + " \"]\"");
    }
    if (hi && *hi == 0) return new_rule(path, "\"[\" \"]\"");
    std::optional<int64_t> rest_hi;
    if (hi) rest_hi = *hi - 1;
    const std::string list =
        *item + (rest_hi && *rest_hi == 0
                     ? ""
                     : " (\",\" sp " + *item + ")" + repeat(std::max<int64_t>(0, lo - 1), rest_hi));
    return new_rule(path, lo == 0 ? "\"[\" (" + list + ")? \"]\"" : "\"[\" " + list + " \"]\"");
  }

  core::Result<std::string> object(const Json& s, const std::string& path, int depth) {
    use("sp");
    std::vector<std::pair<std::string, bool>> props;  // kv rule, required
    std::set<std::string> required;
    if (auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) return fail(path + "/required", "'required' must be an array");
      for (const Json& r : *it) {
        if (!r.is_string()) return fail(path + "/required", "'required' must hold strings");
        required.insert(r.get<std::string>());
      }
    }
    std::set<std::string> listed;
    if (auto it = s.find("properties"); it != s.end()) {
      if (!it->is_object()) return fail(path + "/properties", "'properties' must be an object");
      for (const auto& [key, sub] : it->items()) {
        const std::string sub_path = path + "/properties/" + escape_pointer_token(key);
        SARATHI_ASSIGN_OR_RETURN(std::string v, visit(sub, sub_path, depth + 1));
        const std::string kv =
            new_rule(sub_path + "-kv", gbnf_literal(Json(key).dump() + ":") + " sp " + v);
        props.emplace_back(kv, required.count(key) > 0);
        listed.insert(key);
      }
    }
    for (const std::string& r : required)
      if (!listed.count(r))
        return fail(path + "/required",
                    fmt::format("required property '{}' is not in 'properties'", r));
    std::optional<std::string> extra;  // the kv rule of additional properties
    if (auto it = s.find("additionalProperties"); it != s.end() && *it != false) {
      std::string v;
      if (*it == true) {
        v = use("value");
      } else {
        SARATHI_ASSIGN_OR_RETURN(v, visit(*it, path + "/additionalProperties", depth + 1));
      }
      extra = new_rule(path + "-additional-kv", use("string") + " \":\" sp " + v);
    }
    // first(i): the rest from property i with nothing written yet; after(i): with something
    // written (so each property starts with a comma).
    std::string after_end = extra ? "(\",\" sp " + *extra + ")*" : "\"\"";
    std::string first_end = extra ? "(" + *extra + " (\",\" sp " + *extra + ")*)?" : "\"\"";
    std::string first = first_end, after = after_end;
    for (size_t i = props.size(); i-- > 0;) {
      const auto& [kv, req] = props[i];
      const std::string a = new_rule(fmt::format("{}-after{}", path, i),
                                     "\",\" sp " + kv + " " + after + (req ? "" : " | " + after));
      const std::string f = new_rule(fmt::format("{}-first{}", path, i),
                                     kv + " " + after + (req ? "" : " | " + first));
      after = a;
      first = f;
    }
    return new_rule(path, "\"{\" " + first + " \"}\"");
  }

  const Json& root_;
  std::string root_name_, prefix_;
  std::map<std::string, std::string> rules_;
  std::map<std::string, std::string> refs_;
};

}  // namespace

core::Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema) {
  return Compiler(schema, "root", "").run();
}

core::Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema,
                                              const std::string& root_name,
                                              const std::string& prefix) {
  return Compiler(schema, root_name, prefix).run();
}

std::string json_value_gbnf(bool object_only) {
  std::string out = std::string("root ::= ") + (object_only ? "object" : "value") + "\n";
  for (const char* r :
       {"value", "object", "array", "string", "number", "integer", "boolean", "null", "sp"})
    out += std::string(r) + " ::= " + kPrimitives.at(r) + "\n";
  return out;
}

}  // namespace sarathi::grammar
