// tests/grammar/json_schema_testing.h: for the structured-output property tests: random JSON
// Schemas over the supported keywords and a validator for them, written from the JSON Schema
// spec (it shares nothing with grammar/json_schema.cpp).
#pragma once

#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>

namespace sarathi::grammar::testing {

using Json = nlohmann::ordered_json;

inline size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

inline bool valid(const Json& x, const Json& s, const Json& root);

inline bool valid_object(const Json& x, const Json& s, const Json& root) {
  if (!x.is_object()) return false;
  const Json props = s.value("properties", Json::object());
  for (const auto& r : s.value("required", Json::array()))
    if (!x.contains(r.get<std::string>())) return false;
  for (const auto& [k, v] : x.items()) {
    if (props.contains(k)) {
      if (!valid(v, props[k], root)) return false;
    } else {
      const Json extra = s.value("additionalProperties", Json(true));
      if (extra == false || !valid(v, extra, root)) return false;
    }
  }
  return true;
}

inline bool valid_array(const Json& x, const Json& s, const Json& root) {
  if (!x.is_array()) return false;
  if (s.contains("minItems") && x.size() < s["minItems"].get<size_t>()) return false;
  if (s.contains("maxItems") && x.size() > s["maxItems"].get<size_t>()) return false;
  const Json prefix = s.value("prefixItems", Json::array());
  for (size_t i = 0; i < x.size(); ++i) {
    if (i < prefix.size()) {
      if (!valid(x[i], prefix[i], root)) return false;
    } else if (s.contains("items") && !valid(x[i], s["items"], root)) {
      return false;
    }
  }
  return true;
}

inline bool valid_string(const Json& x, const Json& s) {
  if (!x.is_string()) return false;
  const std::string v = x.get<std::string>();
  if (s.contains("minLength") && code_points(v) < s["minLength"].get<size_t>()) return false;
  if (s.contains("maxLength") && code_points(v) > s["maxLength"].get<size_t>()) return false;
  if (s.contains("pattern") && !std::regex_match(v, std::regex(s["pattern"].get<std::string>())))
    return false;
  const std::string f = s.value("format", "");
  if (f == "date" &&
      !std::regex_match(v, std::regex(R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))")))
    return false;
  if (f == "uuid" &&
      !std::regex_match(v, std::regex(R"([0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})")))
    return false;
  return true;
}

inline bool valid_type(const Json& x, const std::string& t, const Json& s, const Json& root) {
  if (t == "object") return valid_object(x, s, root);
  if (t == "array") return valid_array(x, s, root);
  if (t == "string") return valid_string(x, s);
  if (t == "integer") return x.is_number_integer();
  if (t == "number") return x.is_number();
  if (t == "boolean") return x.is_boolean();
  if (t == "null") return x.is_null();
  return false;
}

inline bool valid(const Json& x, const Json& s, const Json& root) {
  if (s == true || s.empty()) return true;
  if (s.contains("$ref"))
    return valid(x, root.at(Json::json_pointer(s["$ref"].get<std::string>().substr(1))), root);
  if (s.contains("anyOf")) {
    for (const Json& alt : s["anyOf"])
      if (valid(x, alt, root)) return true;
    return false;
  }
  if (s.contains("const")) return x == s["const"];
  if (s.contains("enum")) {
    for (const Json& e : s["enum"])
      if (x == e) return true;
    return false;
  }
  if (!s.contains("type")) return true;
  if (s["type"].is_array()) {
    for (const Json& t : s["type"])
      if (valid_type(x, t.get<std::string>(), s, root)) return true;
    return false;
  }
  return valid_type(x, s["type"].get<std::string>(), s, root);
}

/// A random schema. With `bounded`, every string, array and number is bounded (random-weight
/// models then finish their output within a few hundred tokens).
inline Json random_schema(std::mt19937& rng, int depth, Json& defs, bool bounded = false) {
  auto coin = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const int kind = coin(depth > 2 ? 6 : 11);
  switch (kind) {
    case 0:
      return {{"type", "integer"}};
    case 1:
      return {{"type", "number"}};
    case 2:
      return {{"type", "boolean"}};
    case 3: {
      Json s = {{"type", "string"}};
      const int v = bounded ? 1 + coin(4) : coin(5);
      if (v == 1) s["maxLength"] = coin(6);
      if (v == 2) s["format"] = coin(2) ? "date" : "uuid";
      if (v == 3) s["pattern"] = "[a-c]{2,4}(-[0-9]{1,3})?";
      if (v == 4) s["minLength"] = 2, s["maxLength"] = 3;
      return s;
    }
    case 4:
      return {{"enum", {"red", 3, nullptr, Json{{"a", {1, 2}}}}}};
    case 5:
      return {{"type", {"string", "null"}}, {"maxLength", 4}};
    case 6: {
      Json s = {
          {"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}};
      Json req = Json::array();
      const int n = 1 + coin(4);
      for (int i = 0; i < n; ++i) {
        const std::string name =
            std::string(1, static_cast<char>('a' + i)) + (coin(3) ? "" : "\"q");
        s["properties"][name] = random_schema(rng, depth + 1, defs, bounded);
        if (coin(2)) req.push_back(name);
      }
      s["required"] = req;
      return s;
    }
    case 7: {
      Json s = {{"type", "array"}, {"items", random_schema(rng, depth + 1, defs, bounded)}};
      if (coin(2)) s["minItems"] = coin(3);
      if (coin(2) || bounded) s["maxItems"] = 3 + coin(3);
      return s;
    }
    case 8:
      return {{"anyOf",
               {random_schema(rng, depth + 1, defs, bounded),
                random_schema(rng, depth + 1, defs, bounded)}}};
    case 9: {
      const std::string name = "d" + std::to_string(defs.size());
      defs[name] = Json::object();  // reserve the name before recursing
      defs[name] = random_schema(rng, depth + 1, defs, bounded);
      return {{"$ref", "#/$defs/" + name}};
    }
    default:
      return {{"type", "array"},
              {"prefixItems", {{{"const", "x"}}, {{"type", "integer"}}}},
              {"items", false}};
  }
}

}  // namespace sarathi::grammar::testing
