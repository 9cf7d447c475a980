#include "server/openai_tools.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <set>
#include <sstream>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"

namespace sarathi::server {
namespace {

using OJson = nlohmann::ordered_json;

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kMistralMarker = "[TOOL_CALLS]";

std::string call_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("call_{:016x}", rng());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// One call object {"name": ..., "arguments"|"parameters": {...}} naming a known tool.
bool read_call(const OJson& j, const std::vector<ToolDef>& tools, ToolCall& out) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  out.name = j["name"].get<std::string>();
  if (std::none_of(tools.begin(), tools.end(),
                   [&](const ToolDef& t) { return t.name == out.name; }))
    return false;
  const char* key = j.contains("arguments") ? "arguments" : "parameters";
  const OJson args = j.contains(key) ? j[key] : OJson::object();
  out.arguments = args.is_string() ? args.get<std::string>() : args.dump();
  out.id = call_id();
  return true;
}

std::optional<OJson> parse_json(std::string_view s) {
  try {
    return OJson::parse(s);
  } catch (const OJson::exception&) {
    return std::nullopt;
  }
}

// Rules of one call to `tool` (root rule `call-<i>`), arguments under `key`.
core::Result<std::string> call_rules(const ToolDef& tool, size_t i, const char* key,
                                     std::set<std::string>& lines) {
  const std::string args = fmt::format("t{}-args", i);
  SARATHI_ASSIGN_OR_RETURN(
      std::string g, grammar::json_schema_to_gbnf(tool.parameters, args, fmt::format("t{}-", i)));
  std::string out = fmt::format(
      "call-{} ::= {} {}\n", i,
      grammar::gbnf_literal(fmt::format("{{\"name\": {}, \"{}\": ", OJson(tool.name).dump(), key)),
      args + " \"}\"");
  std::istringstream in(g);
  for (std::string line; std::getline(in, line);)
    if (lines.insert(line).second) out += line + "\n";
  return out;
}

}  // namespace

ToolFormat tool_format(const ChatTemplate& t) {
  const std::string& s = t.source();
  if (!t.uses_tools() || s.find("<tool_call>") != std::string::npos) return ToolFormat::kHermes;
  if (s.find("[TOOL_CALLS]") != std::string::npos) return ToolFormat::kMistral;
  if (s.find("<|python_tag|>") != std::string::npos || s.find("ipython") != std::string::npos)
    return ToolFormat::kLlama3;
  return ToolFormat::kHermes;
}

ApiResult<std::string> tool_call_gbnf(const std::vector<ToolDef>& tools, ToolChoice choice,
                                      const std::string& name, ToolFormat format) {
  const char* key = format == ToolFormat::kLlama3 ? "parameters" : "arguments";
  std::set<std::string> lines;
  std::string rules, alts;
  for (size_t i = 0; i < tools.size(); ++i) {
    if (choice == ToolChoice::kNamed && tools[i].name != name) continue;
    auto r = call_rules(tools[i], i, key, lines);
    if (!r.ok())
      return invalid_request(fmt::format("tools[{}].function.parameters", i),
                             fmt::format("tool '{}': {}", tools[i].name, r.error().message));
    rules += *r;
    alts += (alts.empty() ? "" : " | ") + fmt::format("call-{}", i);
  }
  std::string root;
  switch (format) {
    case ToolFormat::kHermes:
      root =
          "root ::= block (\"\\n\" block)*\nblock ::= \"<tool_call>\\n\" call "
          "\"\\n</tool_call>\"\n";
      break;
    case ToolFormat::kLlama3:
      root = "root ::= call\n";
      break;
    case ToolFormat::kMistral:
      root = "root ::= \"[\" call (\", \" call)* \"]\"\n";
      break;
  }
  return root + "call ::= " + alts + "\n" + rules;
}

ParsedReply parse_tool_calls(std::string_view text, ToolFormat format,
                             const std::vector<ToolDef>& tools) {
  ParsedReply out{.content = std::string(text)};
  std::vector<ToolCall> calls;
  switch (format) {
    case ToolFormat::kHermes: {
      const size_t first = text.find(kHermesOpen);
      if (first == std::string_view::npos) return out;
      for (size_t p = first; p != std::string_view::npos; p = text.find(kHermesOpen, p)) {
        const size_t body = p + kHermesOpen.size();
        size_t end = text.find(kHermesClose, body);
        const size_t stop = end == std::string_view::npos ? text.size() : end;
        auto j = parse_json(trim(text.substr(body, stop - body)));
        ToolCall c;
        if (!j || !read_call(*j, tools, c)) return out;
        calls.push_back(std::move(c));
        if (end == std::string_view::npos) break;
        p = end + kHermesClose.size();
        if (!trim(text.substr(p)).empty() && text.find(kHermesOpen, p) == std::string_view::npos)
          return out;  // text after the calls: not a clean call reply
      }
      out.content = std::string(trim(text.substr(0, first)));
      break;
    }
    case ToolFormat::kLlama3: {
      std::string_view t = trim(text);
      if (t.substr(0, kPythonTag.size()) == kPythonTag) t = trim(t.substr(kPythonTag.size()));
      if (t.empty() || t.front() != '{') return out;
      // One call, or several separated by ';'.
      auto whole = parse_json(t);
      std::vector<OJson> objs;
      if (whole) {
        objs.push_back(*whole);
      } else {
        size_t start = 0;
        for (size_t semi; start < t.size(); start = semi + 1) {
          semi = t.find(';', start);
          if (semi == std::string_view::npos) semi = t.size();
          auto j = parse_json(trim(t.substr(start, semi - start)));
          if (!j) return out;
          objs.push_back(*j);
        }
      }
      for (const OJson& j : objs) {
        ToolCall c;
        if (!read_call(j, tools, c)) return out;
        calls.push_back(std::move(c));
      }
      out.content.clear();
      break;
    }
    case ToolFormat::kMistral: {
      std::string_view t = trim(text);
      size_t marker = t.find(kMistralMarker);
      std::string_view before;
      if (marker != std::string_view::npos) {
        before = trim(t.substr(0, marker));
        t = trim(t.substr(marker + kMistralMarker.size()));
      }
      if (t.empty() || t.front() != '[') return out;
      auto j = parse_json(t);
      if (!j || !j->is_array() || j->empty()) return out;
      for (const OJson& o : *j) {
        ToolCall c;
        if (!read_call(o, tools, c)) return out;
        calls.push_back(std::move(c));
      }
      out.content = std::string(before);
      break;
    }
  }
  out.calls = std::move(calls);
  return out;
}

size_t safe_content_prefix(std::string_view text, ToolFormat format) {
  if (format == ToolFormat::kLlama3) {  // the reply is a call when it starts with '{' or the tag
    const std::string_view t = trim(text);
    if (t.empty()) return 0;
    if (t.front() == '{') return 0;
    if (kPythonTag.substr(0, std::min(t.size(), kPythonTag.size())) ==
        t.substr(0, std::min(t.size(), kPythonTag.size())))
      return 0;
    return text.size();
  }
  const std::string_view marker = format == ToolFormat::kHermes ? kHermesOpen : kMistralMarker;
  if (const size_t p = text.find(marker); p != std::string_view::npos) return p;
  // A tail that could begin the marker is held back.
  for (size_t k = std::min(marker.size() - 1, text.size()); k > 0; --k)
    if (text.substr(text.size() - k) == marker.substr(0, k)) return text.size() - k;
  if (format == ToolFormat::kMistral) {  // a forced call starts straight at the array
    const std::string_view t = trim(text);
    if (!t.empty() && t.front() == '[') return 0;
  }
  return text.size();
}

}  // namespace sarathi::server
