// server/http_server.cpp: routes, authentication, error bodies, the small endpoints and the
// server's life cycle (listen at once, model later, graceful shutdown).
#include "server/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "server/http_handlers.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace sarathi::server {

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.http_status;
  if (e.http_status == 503) res.set_header("Retry-After", "1");
  res.set_content(dump_json(to_json(e)), "application/json");
}

ApiError unavailable(std::string message) {
  return ApiError{.http_status = 503,
                  .message = std::move(message),
                  .type = "server_error",
                  .code = "service_unavailable"};
}

namespace {

// httplib listens with a backlog of 5 (compiled into Debian's library): hundreds of clients
// connecting at once would be reset. Linux lets listen() raise the backlog of a listening socket.
class Listener : public httplib::Server {
 public:
  void raise_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

using State = HttpServer::State;
using StatePtr = std::shared_ptr<State>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_json(const httplib::Request& req) {
  const std::string ct = lower(req.get_header_value("Content-Type"));
  return ct.rfind("application/json", 0) == 0;
}

// The model when the server can take a request now; otherwise the error is sent.
std::shared_ptr<ServedModel> ready_model(State& s, httplib::Response& res) {
  if (s.draining) {
    send_error(res, unavailable("The server is shutting down."));
    return nullptr;
  }
  auto m = s.served();
  if (!m) send_error(res, unavailable("The model is still loading."));
  return m;
}

// A POST route with a JSON body: checks the content type and readiness first.
using PostFn = std::function<void(const StatePtr&, std::shared_ptr<ServedModel>,
                                  const httplib::Request&, httplib::Response&)>;
httplib::Server::Handler json_post(StatePtr state, PostFn fn) {
  return [state, fn](const httplib::Request& req, httplib::Response& res) {
    if (!is_json(req))
      return send_error(res, invalid_request("", "Content-Type must be application/json.",
                                             "invalid_content_type"));
    if (auto m = ready_model(*state, res)) fn(state, std::move(m), req, res);
  };
}

void tokenize(const StatePtr&, std::shared_ptr<ServedModel> m, const httplib::Request& req,
              httplib::Response& res) {
  auto r = parse_tokenize_request(req.body);
  if (!r.ok()) return send_error(res, r.error());
  std::string text;
  if (const auto* msgs = std::get_if<std::vector<ChatMessage>>(&r->input)) {
    auto rendered =
        m->chat_template.render(*msgs, {.bos_token = m->bos_text,
                                        .eos_token = m->eos_text,
                                        .add_generation_prompt = r->add_generation_prompt});
    if (!rendered.ok())
      return send_error(res, invalid_request("messages", rendered.error().message));
    text = std::move(*rendered);
  } else {
    text = std::get<std::string>(r->input);
  }
  const auto ids = m->model->tokenizer().encode(text, r->add_special_tokens, true);
  res.set_content(dump_json(tokenize_response(ids, m->sched.max_model_len)), "application/json");
}

void detokenize(const StatePtr&, std::shared_ptr<ServedModel> m, const httplib::Request& req,
                httplib::Response& res) {
  auto r = parse_detokenize_request(req.body);
  if (!r.ok()) return send_error(res, r.error());
  const model::Tokenizer& tok = m->model->tokenizer();
  for (int32_t t : r->tokens)
    if (t < 0 || t >= tok.n_vocab())
      return send_error(res, invalid_request("tokens", fmt::format("Token id {} is out of "
                                                                   "vocabulary.",
                                                                   t)));
  res.set_content(dump_json(detokenize_response(tok.decode(r->tokens, false, false))),
                  "application/json");
}

void add_routes(httplib::Server& svr, const StatePtr& state) {
  svr.Get("/health", [state](const httplib::Request&, httplib::Response& res) {
    if (state->draining) return send_error(res, unavailable("The server is shutting down."));
    if (!state->ready) return send_error(res, unavailable("The model is still loading."));
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  svr.Get("/metrics", [state](const httplib::Request&, httplib::Response& res) {
    auto m = state->served();
    if (!m) return send_error(res, unavailable("The model is still loading."));
    res.set_content(m->engine->metrics_text(), "text/plain; version=0.0.4");
  });
  svr.Get("/v1/models", [state](const httplib::Request&, httplib::Response& res) {
    auto m = ready_model(*state, res);
    if (!m) return;
    const ModelCard card{.id = state->options.served_model_name,
                         .created = state->created,
                         .max_model_len = m->sched.max_model_len};
    res.set_content(dump_json(models_response(std::span(&card, 1))), "application/json");
  });
  svr.Post("/v1/completions", json_post(state, handle_completions));
  svr.Post("/v1/chat/completions", json_post(state, handle_chat));
  svr.Post("/tokenize", json_post(state, tokenize));
  // vLLM's: forget every cached prefix block (benchmarks reset it between runs).
  svr.Post("/reset_prefix_cache", [state](const httplib::Request&, httplib::Response& res) {
    auto m = ready_model(*state, res);
    if (!m) return;
    if (!m->engine->reset_prefix_cache(std::chrono::seconds(30)))
      return send_error(res, unavailable("The engine did not reset the prefix cache in time."));
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  svr.Post("/detokenize", json_post(state, detokenize));
}

void add_hooks(httplib::Server& svr, const StatePtr& state) {
  const std::string key = state->options.api_key;
  svr.set_pre_routing_handler([key](const httplib::Request& req, httplib::Response& res) {
    if (key.empty() || req.path.rfind("/v1/", 0) != 0)
      return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + key)
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, invalid_api_key());
    return httplib::Server::HandlerResponse::Handled;
  });
  // Bodies for the errors httplib produces itself (404, 413, 400 on a bad request line).
  const size_t max = state->options.max_request_bytes;
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [max](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty() || res.is_chunked_content_provider_)
          return httplib::Server::HandlerResponse::Unhandled;
        ApiError e{.http_status = res.status, .message = fmt::format("HTTP error {}.", res.status)};
        if (res.status == 404) {
          e.message = fmt::format("Not found: {} {}", req.method, req.path);
          e.type = "not_found_error";
        } else if (res.status == 413) {
          e.message = fmt::format("The request body is larger than {} bytes.", max);
          e.code = "request_too_large";
        }
        send_error(res, e);
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        send_error(res, ApiError{.http_status = 500, .message = what, .type = "server_error"});
      });
}

}  // namespace

HttpServer::HttpServer(HttpOptions options)
    : options_(std::move(options)),
      state_(std::make_shared<State>()),
      svr_(std::make_unique<Listener>()) {
  state_->options = options_;
  state_->created = static_cast<int64_t>(std::time(nullptr));
}

HttpServer::~HttpServer() {
  shutdown();
  wait();
  if (load_thread_.joinable()) load_thread_.join();  // shutdown() ran on the load thread
}

core::Status HttpServer::start() {
  const size_t threads = static_cast<size_t>(std::max(options_.num_http_threads, 4));
  svr_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr_->set_payload_max_length(options_.max_request_bytes);
  svr_->set_keep_alive_timeout(2);
  svr_->set_read_timeout(30);
  svr_->set_write_timeout(30);
  add_hooks(*svr_, state_);
  add_routes(*svr_, state_);
  if (options_.port == 0) {
    port_ = svr_->bind_to_any_port(options_.host);
    if (port_ < 0) return core::make_error(core::ErrorCode::kIo, "cannot bind {}", options_.host);
  } else {
    if (!svr_->bind_to_port(options_.host, options_.port))
      return core::make_error(core::ErrorCode::kIo, "cannot bind {}:{}", options_.host,
                              options_.port);
    port_ = options_.port;
  }
  static_cast<Listener*>(svr_.get())->raise_backlog();
  listen_thread_ = std::thread([this] { svr_->listen_after_bind(); });
  return core::Ok{};
}

void HttpServer::set_model(std::unique_ptr<ServedModel> model) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->model = std::move(model);
  }
  state_->ready = true;
}

void HttpServer::load_async(std::function<core::Result<std::unique_ptr<ServedModel>>()> loader,
                            std::function<void()> on_failed) {
  load_thread_ = std::thread([this, loader = std::move(loader), on_failed = std::move(on_failed)] {
    auto m = loader();
    if (!m.ok()) {
      std::fprintf(stderr, "error: %s\n", m.error().message.c_str());
      if (on_failed) on_failed();
      return;
    }
    set_model(std::move(*m));
  });
}

bool HttpServer::shutdown() {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_) return drained_;
  shut_down_ = true;
  state_->draining = true;
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  if (load_thread_.joinable() && load_thread_.get_id() != std::this_thread::get_id())
    load_thread_.join();
  if (auto m = state_->served()) drained_ = m->engine->shutdown(options_.shutdown_timeout);
  // Let the handlers write their last events (the engine has finished or aborted everything).
  const auto grace = std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
  while (state_->num_active > 0 && std::chrono::steady_clock::now() < grace)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  svr_->stop();
  return drained_;
}

void HttpServer::wait() {
  if (listen_thread_.joinable()) listen_thread_.join();
}

}  // namespace sarathi::server
