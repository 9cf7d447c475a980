// server/http_handlers.h: internals of the HTTP server shared by its .cpp files: the server
// state the handlers read and the generation endpoints. Not for use outside server/http_*.cpp.
// Depends on cpp-httplib, serve_model.h and the protocol layer.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "server/http_server.h"
#include "server/openai_error.h"

namespace sarathi::server {

struct HttpServer::State {
  HttpOptions options;
  int64_t created = 0;  // Unix seconds when the server started
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};   // shutdown began: new requests get 503
  std::atomic<int64_t> num_active{0};  // generation requests still writing a response
  std::mutex mu;                       // guards model
  std::shared_ptr<ServedModel> model;

  std::shared_ptr<ServedModel> served() {
    std::lock_guard<std::mutex> lock(mu);
    return model;
  }
};

/// Writes OpenAI's error body (and Retry-After on 503).
void send_error(httplib::Response& res, const ApiError& e);
/// 503 service_unavailable with `message`.
ApiError unavailable(std::string message);

/// POST /v1/completions and POST /v1/chat/completions, on a ready model (whole or streamed).
void handle_completions(const std::shared_ptr<HttpServer::State>& state,
                        std::shared_ptr<ServedModel> model, const httplib::Request& req,
                        httplib::Response& res);
void handle_chat(const std::shared_ptr<HttpServer::State>& state,
                 std::shared_ptr<ServedModel> model, const httplib::Request& req,
                 httplib::Response& res);

}  // namespace sarathi::server
