#include "server/serve_model.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sarathi::server {

std::shared_ptr<grammar::CompiledGrammar> GrammarCache::get(
    const ConstraintGrammar& g, const std::shared_ptr<const grammar::TokenVocab>& vocab) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = map_.find(g.gbnf); it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);
      return it->second.first;
    }
  }
  // Outside the lock: walking every position takes milliseconds per position.
  auto cg = std::make_shared<grammar::CompiledGrammar>(g.grammar, vocab);
  cg->precompute();
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = map_.find(g.gbnf); it != map_.end()) return it->second.first;  // raced
  order_.push_front(g.gbnf);
  map_.emplace(g.gbnf, std::make_pair(cg, order_.begin()));
  if (map_.size() > capacity_) {
    map_.erase(order_.back());
    order_.pop_back();
  }
  return cg;
}

size_t GrammarCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

ServedModel::~ServedModel() {
  if (engine) engine->shutdown(std::chrono::milliseconds(0));
  engine.reset();
  executor.reset();
}

namespace {

core::Result<std::string> template_source(const std::string& override_text,
                                          const model::LlamaModel& m) {
  if (override_text.empty())
    return m.chat_template().empty() ? std::string(kChatMlTemplate) : m.chat_template();
  std::error_code ec;
  if (override_text.size() < 4096 && std::filesystem::is_regular_file(override_text, ec)) {
    std::ifstream in(override_text, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in.good() && !in.eof())
      return core::make_error(core::ErrorCode::kIo, "cannot read chat template {}", override_text);
    return ss.str();
  }
  return override_text;
}

}  // namespace

core::Result<std::unique_ptr<ServedModel>> make_served_model(
    std::unique_ptr<model::LlamaModel> model, const ServedModelOptions& options) {
  auto s = std::make_unique<ServedModel>();
  s->sched = options.sched;
  SARATHI_ASSIGN_OR_RETURN(const std::string source,
                           template_source(options.chat_template, *model));
  auto tmpl = ChatTemplate::parse(source);
  if (!tmpl.ok())
    return core::make_error(tmpl.error().code, "chat template: {}", tmpl.error().message);
  s->chat_template = std::move(*tmpl);
  const model::Tokenizer& tok = model->tokenizer();
  if (tok.bos_id() >= 0) s->bos_text = tok.token_to_piece(tok.bos_id(), true);
  if (tok.eos_id() >= 0) s->eos_text = tok.token_to_piece(tok.eos_id(), true);
  const model::KvCacheOptions kv{.num_blocks = options.sched.num_kv_blocks,
                                 .block_size = options.sched.block_size,
                                 .dtype = options.kv_dtype};
  if (options.make_executor) {
    SARATHI_ASSIGN_OR_RETURN(s->executor,
                             options.make_executor(*model, kv, options.num_threads));
  } else {
    SARATHI_ASSIGN_OR_RETURN(s->executor,
                             engine::ModelExecutor::create(*model, kv, options.num_threads));
  }
  engine::EngineOptions eo{.sched = options.sched};
  if (options.tbt_slo_s != 0) {
    SARATHI_ASSIGN_OR_RETURN(engine::Calibration cal,
                             engine::calibrate_slo(*s->executor, eo.sched, options.tbt_slo_s));
    if (options.log) options.log(engine::describe_slo(cal, eo.sched));
    eo.cost_fitter = std::move(cal.fitter);
    s->sched = eo.sched;
  }
  SARATHI_ASSIGN_OR_RETURN(s->engine,
                           engine::AsyncEngine::create(
                               *s->executor, &model->tokenizer(), std::move(eo),
                               {.max_queue = options.max_queue, .model_name = options.model_name}));
  s->model = std::move(model);
  return s;
}

}  // namespace sarathi::server
