// server/http_server.h: the OpenAI-compatible HTTP server (cpp-httplib). Listens at once and
// answers /health with 503 until a model is set; then serves /v1/completions,
// /v1/chat/completions (whole or as server-sent events), /v1/models, /health, /metrics,
// /tokenize and /detokenize. Each connection has its own worker thread; generation runs on the
// AsyncEngine's thread, which never waits on a socket: handlers pull token events from their
// RequestStream with a timeout. Depends on server/serve_model.h and the protocol layer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "server/serve_model.h"

namespace httplib {
class Server;
}

namespace sarathi::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0: any free port (see port())
  std::string served_model_name = "sarathi";
  std::string api_key;                 // empty: no authentication
  size_t max_request_bytes = 1 << 20;  // larger bodies get 413
  int32_t num_http_threads = 512;      // connections served at once (one thread each)
  std::chrono::milliseconds shutdown_timeout{30000};
};

class HttpServer {
 public:
  explicit HttpServer(HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds the port and starts serving on a background thread (the model may come later).
  core::Status start();
  /// The bound port (after start()).
  int port() const { return port_; }
  /// Makes the server ready: requests are served from `model` from now on.
  void set_model(std::unique_ptr<ServedModel> model);
  /// Loads the model on a background thread; on failure the message is printed, on_failed runs.
  void load_async(std::function<core::Result<std::unique_ptr<ServedModel>>()> loader,
                  std::function<void()> on_failed);
  /// Graceful stop: new requests get 503, in-flight requests may finish for shutdown_timeout,
  /// the rest are aborted; then the listener stops. True when everything finished in time.
  /// Idempotent; any thread.
  bool shutdown();
  /// Blocks until the listener thread has ended (after shutdown()).
  void wait();

  struct State;  // shared with the request handlers (http_server.cpp)

 private:
  HttpOptions options_;
  std::shared_ptr<State> state_;
  std::unique_ptr<httplib::Server> svr_;
  std::thread listen_thread_;
  std::thread load_thread_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  bool drained_ = true;
  int port_ = 0;
};

}  // namespace sarathi::server
