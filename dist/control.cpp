#include "dist/control.h"

#include <nlohmann/json.hpp>

namespace sarathi::dist {

using nlohmann::json;

std::string encode_command(const LoadCommand& c) {
  return json{{"cmd", "load"},
              {"spec", c.spec},
              {"n_ctx", c.options.n_ctx},
              {"seed", c.options.seed},
              {"float_weights", c.options.float_weights
                                    ? std::string(core::dtype_name(*c.options.float_weights))
                                    : std::string()},
              {"first_layer", c.first_layer},
              {"end_layer", c.end_layer}}
      .dump();
}

std::string encode_command(const StartCommand& c) {
  return json{{"cmd", "start"},
              {"num_blocks", c.kv.num_blocks},
              {"block_size", c.kv.block_size},
              {"kv_dtype", std::string(core::dtype_name(c.kv.dtype))},
              {"threads", c.threads}}
      .dump();
}

std::string encode_command(const ExitCommand& c) {
  return json{{"cmd", "exit"}, {"code", c.code}}.dump();
}

std::string encode_command(Command c) {
  return json{{"cmd", c == Command::kGo ? "go" : "cancel"}}.dump();
}

core::Result<ParsedCommand> parse_command(std::span<const std::byte> bytes) {
  const auto text = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](std::string_view why) {
    return core::make_error(core::ErrorCode::kInvalidFormat, "pipeline command {}: {}",
                            text.substr(0, 200), why);
  };
  if (!j.is_object() || !j.contains("cmd") || !j["cmd"].is_string()) return bad("not a command");
  ParsedCommand p;
  const std::string cmd = j["cmd"];
  try {
    if (cmd == "load") {
      p.kind = Command::kLoad;
      p.load.spec = j.at("spec").get<std::string>();
      p.load.options.n_ctx = j.at("n_ctx").get<int32_t>();
      p.load.options.seed = j.at("seed").get<uint64_t>();
      const std::string fw = j.at("float_weights").get<std::string>();
      if (!fw.empty()) {
        p.load.options.float_weights = core::dtype_from_name(fw);
        if (!p.load.options.float_weights) return bad("unknown float weight type");
      }
      p.load.first_layer = j.at("first_layer").get<int32_t>();
      p.load.end_layer = j.at("end_layer").get<int32_t>();
    } else if (cmd == "start") {
      p.kind = Command::kStart;
      p.start.kv.num_blocks = j.at("num_blocks").get<int32_t>();
      p.start.kv.block_size = j.at("block_size").get<int32_t>();
      const auto kv = core::dtype_from_name(j.at("kv_dtype").get<std::string>());
      if (!kv || (*kv != core::DType::kF16 && *kv != core::DType::kF32 &&
                  *kv != core::DType::kQ8_0))
        return bad("unknown KV type");
      p.start.kv.dtype = *kv;
      p.start.threads = j.at("threads").get<int>();
    } else if (cmd == "go" || cmd == "cancel") {
      p.kind = cmd == "go" ? Command::kGo : Command::kCancel;
    } else if (cmd == "exit") {
      p.kind = Command::kExit;
      p.exit.code = j.at("code").get<int>();
    } else {
      return bad("unknown command");
    }
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  return p;
}

std::string encode_reply(const core::Status& status) {
  return status.ok() ? json{{"ok", true}}.dump()
                     : json{{"ok", false}, {"error", status.error().message}}.dump();
}

Reply parse_reply(std::span<const std::byte> bytes) {
  const auto text = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
    return {false, "malformed reply: " + std::string(text.substr(0, 200))};
  if (j["ok"].get<bool>()) return {true, ""};
  return {false, j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                               : "no reason given"};
}

}  // namespace sarathi::dist
