#include "server/openai_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "server/openai_fields.h"

namespace sarathi::server {
namespace {

using Json = nlohmann::json;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

ApiError missing(std::string param) {
  return invalid_request(param, fmt::format("'{}' is required", param),
                         "missing_required_parameter");
}

ApiError wrong_type(std::string param, std::string_view expected, const Json& got) {
  return invalid_request(param,
                         fmt::format("'{}' must be {}, got {}", param, expected, json_type(got)),
                         "invalid_type");
}

ApiError unsupported(std::string param, std::string message) {
  return invalid_request(std::move(param), std::move(message), "unsupported_parameter");
}

/// A non-empty array of token ids in [0, INT32_MAX].
ApiResult<std::vector<int32_t>> token_ids(const Json& j, const std::string& param,
                                          bool allow_empty) {
  if (!j.is_array()) return wrong_type(param, "an array of token ids", j);
  if (j.empty() && !allow_empty)
    return invalid_request(param, fmt::format("'{}' must not be empty", param));
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  for (const Json& t : j) {
    auto id = json_integer(t, 0, kInt32Max);
    if (!id)
      return invalid_request(param,
                             fmt::format("'{}' must hold token ids (integers >= 0), got {}", param,
                                         t.is_number() ? t.dump() : std::string(json_type(t))),
                             t.is_number() ? "invalid_value" : "invalid_type");
    ids.push_back(static_cast<int32_t>(*id));
  }
  return ids;
}

/// prompt: a string, a list of strings, a list of token ids, or a list of lists of token ids.
ApiResult<std::vector<PromptInput>> parse_prompts(const Json* p) {
  if (!p) return missing("prompt");
  std::vector<PromptInput> prompts;
  if (p->is_string()) {
    if (p->get_ref<const std::string&>().empty())
      return invalid_request("prompt", "'prompt' must not be empty");
    prompts.emplace_back(p->get<std::string>());
    return prompts;
  }
  if (!p->is_array())
    return wrong_type("prompt", "a string, an array of strings or an array of token ids", *p);
  if (p->empty()) return invalid_request("prompt", "'prompt' must not be empty");
  const Json& first = p->front();
  if (first.is_number()) {
    SARATHI_ASSIGN_OR_RETURN(auto ids, token_ids(*p, "prompt", false));
    prompts.emplace_back(std::move(ids));
    return prompts;
  }
  if (p->size() > kMaxPrompts)
    return invalid_request("prompt", fmt::format("at most {} prompts per request", kMaxPrompts));
  for (const Json& item : *p) {
    if (first.is_string()) {
      if (!item.is_string()) return wrong_type("prompt", "an array of strings only", item);
      if (item.get_ref<const std::string&>().empty())
        return invalid_request("prompt", "'prompt' must not contain empty strings");
      prompts.emplace_back(item.get<std::string>());
    } else if (first.is_array()) {
      SARATHI_ASSIGN_OR_RETURN(auto ids, token_ids(item, "prompt", false));
      prompts.emplace_back(std::move(ids));
    } else {
      return wrong_type("prompt", "a string, an array of strings or an array of token ids", item);
    }
  }
  return prompts;
}

ApiResult<std::string> message_content(const Json& msg, const std::string& param, bool optional) {
  auto it = msg.find("content");
  if (it == msg.end() || it->is_null()) {
    if (optional) return std::string();
    return missing(param);
  }
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) return wrong_type(param, "a string or an array of content parts", *it);
  std::string text;
  for (size_t k = 0; k < it->size(); ++k) {
    const Json& part = (*it)[k];
    const std::string part_param = fmt::format("{}[{}]", param, k);
    if (!part.is_object()) return wrong_type(part_param, "an object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) return missing(part_param + ".type");
    if (*type != "text")
      return unsupported(part_param + ".type",
                         fmt::format("content part type '{}' is not supported (text only)",
                                     type->get<std::string>()));
    auto t = part.find("text");
    if (t == part.end() || !t->is_string()) return missing(part_param + ".text");
    if (k > 0) text += '\n';
    text += t->get<std::string>();
  }
  return text;
}

ApiResult<ChatMessage> parse_message(const Json& msg, size_t idx) {
  const std::string param = fmt::format("messages[{}]", idx);
  if (!msg.is_object()) return wrong_type(param, "an object", msg);
  auto role = msg.find("role");
  if (role == msg.end() || role->is_null()) return missing(param + ".role");
  if (!role->is_string()) return wrong_type(param + ".role", "a string", *role);
  std::string r = role->get<std::string>();
  if (r == "developer") r = "system";
  if (r == "function")
    return unsupported(param + ".role",
                       "role 'function' is not supported (use 'tool' messages)");
  if (r != "system" && r != "user" && r != "assistant" && r != "tool")
    return invalid_request(param + ".role",
                           fmt::format("unknown role '{}' (expected system, user, assistant or "
                                       "tool)", r));
  ChatMessage out{.role = r};
  auto calls = msg.find("tool_calls");
  if (calls != msg.end() && !calls->is_null()) {
    if (r != "assistant")
      return invalid_request(param + ".tool_calls", "only assistant messages have tool_calls");
    if (!calls->is_array()) return wrong_type(param + ".tool_calls", "an array", *calls);
    for (size_t k = 0; k < calls->size(); ++k) {
      const Json& c = (*calls)[k];
      const std::string cp = fmt::format("{}.tool_calls[{}]", param, k);
      if (!c.is_object()) return wrong_type(cp, "an object", c);
      FieldReader cr(c, cp + ".");
      ToolCall tc;
      tc.id = cr.string("id").value_or("");
      const Json* fn = cr.get("function");
      if (cr.failed()) return cr.error();
      if (!fn || !fn->is_object()) return missing(cp + ".function");
      FieldReader fr(*fn, cp + ".function.");
      tc.name = fr.string("name").value_or("");
      const Json* args = fr.get("arguments");
      if (fr.failed()) return fr.error();
      if (tc.name.empty()) return missing(cp + ".function.name");
      tc.arguments = !args ? "{}" : args->is_string() ? args->get<std::string>() : args->dump();
      out.tool_calls.push_back(std::move(tc));
    }
  }
  if (r == "tool") {
    FieldReader tr(msg, param + ".");
    out.tool_call_id = tr.string("tool_call_id").value_or("");
    out.name = tr.string("name").value_or("");
    if (tr.failed()) return tr.error();
  }
  SARATHI_ASSIGN_OR_RETURN(out.content,
                           message_content(msg, param + ".content", r == "assistant"));
  return out;
}

ApiResult<std::vector<ChatMessage>> parse_messages(const Json* m) {
  if (!m) return missing("messages");
  if (!m->is_array()) return wrong_type("messages", "an array", *m);
  if (m->empty())
    return invalid_request("messages", "'messages' must contain at least one message");
  std::vector<ChatMessage> out;
  out.reserve(m->size());
  for (size_t i = 0; i < m->size(); ++i) {
    SARATHI_ASSIGN_OR_RETURN(ChatMessage msg, parse_message((*m)[i], i));
    out.push_back(std::move(msg));
  }
  return out;
}

ApiStatus parse_stop(FieldReader& r, SamplingRequest& s) {
  if (const Json* ids = r.get("stop_token_ids")) {
    SARATHI_ASSIGN_OR_RETURN(s.stop_token_ids, token_ids(*ids, "stop_token_ids", true));
    if (s.stop_token_ids.size() > kMaxStopTokenIds)
      return invalid_request("stop_token_ids",
                             fmt::format("at most {} stop token ids", kMaxStopTokenIds));
  }
  const Json* stop = r.get("stop");
  if (!stop) return core::Ok{};
  std::vector<std::string> all;
  if (stop->is_string()) {
    all.push_back(stop->get<std::string>());
  } else if (stop->is_array()) {
    if (stop->size() > kMaxStopStrings)
      return invalid_request("stop", fmt::format("at most {} stop strings", kMaxStopStrings));
    for (const Json& x : *stop) {
      if (!x.is_string()) return wrong_type("stop", "a string or an array of strings", x);
      all.push_back(x.get<std::string>());
    }
  } else {
    return wrong_type("stop", "a string or an array of strings", *stop);
  }
  for (auto& x : all) {
    if (x.size() > kMaxStopStringBytes)
      return invalid_request(
          "stop", fmt::format("stop strings are limited to {} bytes", kMaxStopStringBytes));
    if (!x.empty()) s.stop.push_back(std::move(x));
  }
  return core::Ok{};
}

ApiStatus parse_logit_bias(FieldReader& r, SamplingRequest& s) {
  const Json* bias = r.get("logit_bias");
  if (!bias) return core::Ok{};
  if (!bias->is_object())
    return wrong_type("logit_bias", "an object mapping token ids to numbers", *bias);
  if (bias->size() > kMaxLogitBias)
    return invalid_request("logit_bias",
                           fmt::format("at most {} logit_bias entries", kMaxLogitBias));
  for (const auto& [key, value] : bias->items()) {
    int32_t id = -1;
    auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || id < 0)
      return invalid_request("logit_bias",
                             fmt::format("logit_bias key '{}' is not a token id", key));
    if (!value.is_number())
      return wrong_type("logit_bias", "an object mapping token ids to numbers", value);
    const double b = value.get<double>();
    if (b < -100.0 || b > 100.0)
      return invalid_request(
          "logit_bias",
          fmt::format("logit_bias values must be in [-100, 100], got {}", value.dump()));
    s.logit_bias.emplace_back(id, static_cast<float>(b));
  }
  return core::Ok{};
}

ApiStatus parse_stream(FieldReader& r, SamplingRequest& s) {
  s.stream = r.boolean("stream").value_or(false);
  if (r.failed()) return r.error();
  if (const Json* opts = r.get("stream_options")) {
    if (!s.stream)
      return invalid_request("stream_options",
                             "'stream_options' is only allowed when 'stream' is true");
    if (!opts->is_object()) return wrong_type("stream_options", "an object", *opts);
    FieldReader o(*opts, "stream_options.");
    s.include_usage = o.boolean("include_usage").value_or(false);
    if (o.failed()) return o.error();
  }
  return core::Ok{};
}

/// The value at `ptr` of the body re-read keeping key order (nlohmann::json sorts keys, and a
/// schema's properties must keep the client's order). The body parsed once already.
nlohmann::ordered_json ordered_at(std::string_view body, const nlohmann::json::json_pointer& ptr) {
  return nlohmann::ordered_json::parse(body).at(nlohmann::ordered_json::json_pointer(ptr.to_string()));
}

ApiResult<nlohmann::ordered_json> schema_value(const Json& v, std::string_view body,
                                               const std::string& param,
                                               const Json::json_pointer& ptr) {
  if (v.is_object() || v.is_boolean()) return ordered_at(body, ptr);
  if (v.is_string()) {  // vLLM accepts the schema as JSON text
    try {
      return nlohmann::ordered_json::parse(v.get<std::string>());
    } catch (const nlohmann::json::exception&) {
      return invalid_request(param, fmt::format("'{}' is not valid JSON", param));
    }
  }
  return wrong_type(param, "a JSON schema (an object)", v);
}

ApiResult<std::vector<std::string>> choice_list(const Json& v, const std::string& param) {
  if (!v.is_array() || v.empty()) return wrong_type(param, "a non-empty array of strings", v);
  std::vector<std::string> out;
  for (const Json& c : v) {
    if (!c.is_string()) return wrong_type(param, "a non-empty array of strings", c);
    out.push_back(c.get<std::string>());
  }
  return out;
}

// One constraint field: `key` of object `obj` (at `ptr` in the body), whose kind `kind` names.
ApiResult<OutputConstraint> constraint_of(OutputConstraint::Kind kind, const Json& v,
                                          std::string_view body, std::string param,
                                          const Json::json_pointer& ptr) {
  using Kind = OutputConstraint::Kind;
  OutputConstraint c{.kind = kind, .param = param};
  switch (kind) {
    case Kind::kJsonSchema: {
      SARATHI_ASSIGN_OR_RETURN(c.schema, schema_value(v, body, param, ptr));
      break;
    }
    case Kind::kRegex:
    case Kind::kGrammar:
      if (!v.is_string()) return wrong_type(param, "a string", v);
      c.text = v.get<std::string>();
      break;
    case Kind::kChoice: {
      SARATHI_ASSIGN_OR_RETURN(c.choices, choice_list(v, param));
      break;
    }
    case Kind::kJsonObject:
      if (v != true) return invalid_request(param, fmt::format("'{}' must be true", param));
      break;
    case Kind::kNone:
      break;
  }
  return c;
}

ApiResult<OutputConstraint> response_format(const Json& f, std::string_view body) {
  using Kind = OutputConstraint::Kind;
  if (!f.is_object()) return wrong_type("response_format", "an object", f);
  auto type = f.find("type");
  if (type == f.end() || !type->is_string()) return missing("response_format.type");
  const std::string t = type->get<std::string>();
  if (t == "text") return OutputConstraint{};
  if (t == "json_object") return OutputConstraint{.kind = Kind::kJsonObject, .param = "response_format"};
  if (t != "json_schema")
    return unsupported("response_format.type",
                       fmt::format("response_format type '{}' is not supported (text, "
                                   "json_object, json_schema)", t));
  auto js = f.find("json_schema");
  if (js == f.end() || js->is_null()) return missing("response_format.json_schema");
  if (!js->is_object()) return wrong_type("response_format.json_schema", "an object", *js);
  auto schema = js->find("schema");
  if (schema == js->end() || schema->is_null())
    return missing("response_format.json_schema.schema");
  return constraint_of(Kind::kJsonSchema, *schema, body, "response_format.json_schema.schema",
                       Json::json_pointer("/response_format/json_schema/schema"));
}

/// Structured output from whichever of the supported fields is given (at most one).
ApiStatus parse_constraint(const Json& j, std::string_view body, OutputConstraint& out) {
  using Kind = OutputConstraint::Kind;
  std::vector<OutputConstraint> found;
  FieldReader r(j);
  if (const Json* f = r.get("response_format")) {
    SARATHI_ASSIGN_OR_RETURN(OutputConstraint c, response_format(*f, body));
    if (c.kind != Kind::kNone) found.push_back(std::move(c));
  }
  const std::pair<const char*, Kind> top[] = {
      {"guided_json", Kind::kJsonSchema}, {"guided_regex", Kind::kRegex},
      {"guided_choice", Kind::kChoice},   {"guided_grammar", Kind::kGrammar},
      {"grammar", Kind::kGrammar},        {"json_schema", Kind::kJsonSchema}};
  for (const auto& [key, kind] : top)
    if (const Json* v = r.get(key)) {
      SARATHI_ASSIGN_OR_RETURN(
          OutputConstraint c,
          constraint_of(kind, *v, body, key, Json::json_pointer(std::string("/") + key)));
      found.push_back(std::move(c));
    }
  if (const Json* so = r.get("structured_outputs")) {
    if (!so->is_object()) return wrong_type("structured_outputs", "an object", *so);
    const std::pair<const char*, Kind> keys[] = {{"json", Kind::kJsonSchema},
                                                 {"regex", Kind::kRegex},
                                                 {"choice", Kind::kChoice},
                                                 {"grammar", Kind::kGrammar},
                                                 {"json_object", Kind::kJsonObject}};
    for (const auto& [key, kind] : keys)
      if (auto it = so->find(key); it != so->end() && !it->is_null()) {
        SARATHI_ASSIGN_OR_RETURN(
            OutputConstraint c,
            constraint_of(kind, *it, body, std::string("structured_outputs.") + key,
                          Json::json_pointer(std::string("/structured_outputs/") + key)));
        found.push_back(std::move(c));
      }
  }
  if (found.size() > 1)
    return invalid_request(found[1].param,
                           fmt::format("give one structured-output constraint, not both '{}' and "
                                       "'{}'", found[0].param, found[1].param));
  if (!found.empty()) out = std::move(found[0]);
  return core::Ok{};
}

/// The fields both endpoints share (max_tokens and logprobs are endpoint-specific).
ApiStatus parse_sampling(FieldReader& r, SamplingRequest& s) {
  s.n = static_cast<int32_t>(r.integer("n", 1, kMaxN).value_or(1));
  s.temperature = static_cast<float>(r.number("temperature", {.min = 0, .max = 2}).value_or(1.0));
  s.top_p =
      static_cast<float>(r.number("top_p", {.min = 0, .max = 1, .min_open = true}).value_or(1.0));
  s.top_k =
      static_cast<int32_t>(std::max<int64_t>(0, r.integer("top_k", -1, kInt32Max).value_or(0)));
  s.min_p = static_cast<float>(r.number("min_p", {.min = 0, .max = 1}).value_or(0.0));
  s.presence_penalty =
      static_cast<float>(r.number("presence_penalty", {.min = -2, .max = 2}).value_or(0.0));
  s.frequency_penalty =
      static_cast<float>(r.number("frequency_penalty", {.min = -2, .max = 2}).value_or(0.0));
  s.repetition_penalty = static_cast<float>(
      r.number("repetition_penalty", {.min = 0, .min_open = true}).value_or(1.0));
  s.seed =
      r.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  s.ignore_eos = r.boolean("ignore_eos").value_or(false);
  s.priority = static_cast<int32_t>(
      r.integer("priority", std::numeric_limits<int32_t>::min(), kInt32Max).value_or(0));
  if (r.failed()) return r.error();
  SARATHI_RETURN_IF_ERROR(parse_stop(r, s));
  SARATHI_RETURN_IF_ERROR(parse_logit_bias(r, s));
  return parse_stream(r, s);
}

ApiStatus check_unsupported_chat_fields(const Json& j) {
  FieldReader r(j);
  if (const Json* fns = r.get("functions"); fns && !(fns->is_array() && fns->empty()))
    return unsupported("functions", "functions are not supported (use 'tools')");
  return core::Ok{};
}

/// tools and tool_choice; tool schemas are read from the body again to keep their order.
ApiStatus parse_tools(const Json& j, std::string_view body, ChatRequest& req) {
  FieldReader r(j);
  if (const Json* tools = r.get("tools")) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      const std::string param = fmt::format("tools[{}]", i);
      if (!t.is_object()) return wrong_type(param, "an object", t);
      if (t.value("type", "function") != "function")
        return unsupported(param + ".type", "only tools of type 'function' are supported");
      auto fn = t.find("function");
      if (fn == t.end() || !fn->is_object()) return missing(param + ".function");
      auto name = fn->find("name");
      if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
        return missing(param + ".function.name");
      ToolDef def{.name = name->get<std::string>()};
      for (const ToolDef& d : req.tools)
        if (d.name == def.name)
          return invalid_request(param + ".function.name",
                                 fmt::format("two tools are named '{}'", def.name));
      def.raw = ordered_at(body, Json::json_pointer(fmt::format("/tools/{}", i)));
      auto params = fn->find("parameters");
      if (params != fn->end() && !params->is_null()) {
        if (!params->is_object())
          return wrong_type(param + ".function.parameters", "a JSON schema object", *params);
        def.parameters = def.raw["function"]["parameters"];
      } else {
        def.parameters = {{"type", "object"}, {"properties", nlohmann::ordered_json::object()}};
      }
      req.tools.push_back(std::move(def));
    }
  }
  const Json* choice = r.get("tool_choice");
  req.tool_choice = req.tools.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  if (!choice) return core::Ok{};
  if (choice->is_string()) {
    const std::string c = choice->get<std::string>();
    if (c == "none") req.tool_choice = ToolChoice::kNone;
    else if (c == "auto") req.tool_choice = ToolChoice::kAuto;
    else if (c == "required") req.tool_choice = ToolChoice::kRequired;
    else
      return invalid_request("tool_choice",
                             fmt::format("tool_choice '{}' is not one of none, auto, required", c));
  } else if (choice->is_object()) {
    auto fn = choice->find("function");
    if (fn == choice->end() || !fn->is_object() || !fn->contains("name") ||
        !(*fn)["name"].is_string())
      return missing("tool_choice.function.name");
    req.tool_choice = ToolChoice::kNamed;
    req.tool_name = (*fn)["name"].get<std::string>();
    if (std::none_of(req.tools.begin(), req.tools.end(),
                     [&](const ToolDef& d) { return d.name == req.tool_name; }))
      return invalid_request("tool_choice",
                             fmt::format("tool_choice names '{}', which is not in 'tools'",
                                         req.tool_name));
  } else {
    return wrong_type("tool_choice", "a string or an object", *choice);
  }
  if (req.tool_choice != ToolChoice::kNone && req.tools.empty())
    return invalid_request("tool_choice", "tool_choice needs 'tools'");
  if (req.tool_choice == ToolChoice::kRequired || req.tool_choice == ToolChoice::kNamed) {
    if (req.sampling.constraint.kind != OutputConstraint::Kind::kNone)
      return invalid_request("tool_choice",
                             "a required tool call cannot be combined with a structured-output "
                             "constraint");
  }
  return core::Ok{};
}

}  // namespace

ApiResult<CompletionRequest> parse_completion_request(std::string_view body) {
  SARATHI_ASSIGN_OR_RETURN(Json j, parse_json_object(body));
  CompletionRequest req;
  FieldReader r(j);
  req.model = r.string("model").value_or("");
  req.echo = r.boolean("echo").value_or(false);
  const auto max_tokens = r.integer("max_tokens", 0, kInt32Max);
  req.sampling.max_tokens = static_cast<int32_t>(max_tokens.value_or(kDefaultCompletionMaxTokens));
  const auto logprobs = r.integer("logprobs", 0, kMaxLogprobs);
  if (logprobs) req.sampling.logprobs = static_cast<int32_t>(*logprobs);
  if (r.failed()) return r.error();
  if (max_tokens == 0 && !req.echo)
    return invalid_request("max_tokens", "'max_tokens' must be at least 1 (0 only with echo)");
  if (const auto suffix = r.string("suffix"); suffix && !suffix->empty())
    return unsupported("suffix", "suffix is not supported");
  if (const auto best_of = r.integer("best_of", 1, kMaxN); best_of && *best_of != 1)
    return unsupported("best_of", "best_of is not supported");
  if (r.failed()) return r.error();
  SARATHI_ASSIGN_OR_RETURN(req.prompts, parse_prompts(r.get("prompt")));
  SARATHI_RETURN_IF_ERROR(parse_sampling(r, req.sampling));
  SARATHI_RETURN_IF_ERROR(parse_constraint(j, body, req.sampling.constraint));
  if (static_cast<int64_t>(req.prompts.size()) * req.sampling.n > kMaxChoices)
    return invalid_request("n", fmt::format("prompts × n must be at most {}", kMaxChoices));
  return req;
}

ApiResult<ChatRequest> parse_chat_request(std::string_view body) {
  SARATHI_ASSIGN_OR_RETURN(Json j, parse_json_object(body));
  ChatRequest req;
  FieldReader r(j);
  req.model = r.string("model").value_or("");
  req.add_generation_prompt = r.boolean("add_generation_prompt").value_or(true);
  // max_completion_tokens replaces the deprecated max_tokens; both are checked.
  const auto legacy = r.integer("max_tokens", 1, kInt32Max);
  const auto current = r.integer("max_completion_tokens", 1, kInt32Max);
  if (current || legacy)
    req.sampling.max_tokens = static_cast<int32_t>(current ? *current : *legacy);
  const bool logprobs = r.boolean("logprobs").value_or(false);
  const auto top = r.integer("top_logprobs", 0, kMaxLogprobs);
  if (r.failed()) return r.error();
  if (top.value_or(0) > 0 && !logprobs)
    return invalid_request("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
  if (logprobs) req.sampling.logprobs = static_cast<int32_t>(top.value_or(0));
  SARATHI_RETURN_IF_ERROR(check_unsupported_chat_fields(j));
  SARATHI_ASSIGN_OR_RETURN(req.messages, parse_messages(r.get("messages")));
  SARATHI_RETURN_IF_ERROR(parse_sampling(r, req.sampling));
  SARATHI_RETURN_IF_ERROR(parse_constraint(j, body, req.sampling.constraint));
  SARATHI_RETURN_IF_ERROR(parse_tools(j, body, req));
  return req;
}

ApiResult<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  SARATHI_ASSIGN_OR_RETURN(Json j, parse_json_object(body));
  TokenizeRequest req;
  FieldReader r(j);
  req.model = r.string("model").value_or("");
  const Json* messages = r.get("messages");
  const char* text_key = r.get("prompt") ? "prompt" : "content";
  const auto text = r.string(text_key);
  req.add_generation_prompt = r.boolean("add_generation_prompt").value_or(true);
  req.add_special_tokens = r.boolean("add_special_tokens").value_or(messages == nullptr);
  if (r.failed()) return r.error();
  if (text && messages)
    return invalid_request("messages", "give either 'prompt' or 'messages', not both");
  if (text) {
    req.input = *text;
  } else {
    if (!messages) return missing("prompt");
    SARATHI_ASSIGN_OR_RETURN(auto msgs, parse_messages(messages));
    req.input = std::move(msgs);
  }
  return req;
}

ApiResult<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  SARATHI_ASSIGN_OR_RETURN(Json j, parse_json_object(body));
  DetokenizeRequest req;
  FieldReader r(j);
  req.model = r.string("model").value_or("");
  if (r.failed()) return r.error();
  const Json* tokens = r.get("tokens");
  if (!tokens) return missing("tokens");
  SARATHI_ASSIGN_OR_RETURN(req.tokens, token_ids(*tokens, "tokens", true));
  return req;
}

}  // namespace sarathi::server
