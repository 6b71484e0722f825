#include "telemetry/status_server.h"

#include <httplib.h>

#include <sys/socket.h>

#include <charconv>
#include <chrono>

namespace ldx {

StatusServer::StatusServer(std::string listen, Handlers handlers)
    : listen_(std::move(listen)), handlers_(std::move(handlers)), server_(std::make_unique<httplib::Server>()) {}

StatusServer::~StatusServer() { stop(); }

Result<int> StatusServer::start() {
  auto colon = listen_.rfind(':');
  if (colon == std::string::npos) return Status::fatal("http.listen must be HOST:PORT, got '" + listen_ + "'");
  std::string host = listen_.substr(0, colon);
  const std::string port_text = listen_.substr(colon + 1);
  int port = -1;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return Status::fatal("http.listen: the port must be a number from 0 to 65535, got '" + port_text + "'");
  }
  // Only SO_REUSEADDR (a restart may bind over connections in TIME_WAIT). httplib's
  // default also sets SO_REUSEPORT, with which a second ldexport (or anything else) on
  // the same port binds too, and the kernel splits /metrics and /readyz between them.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(handlers_.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    Status st = handlers_.ready();
    res.status = st.is_ok() ? 200 : 503;
    res.set_content(st.is_ok() ? "ready\n" : "not ready: " + st.message() + "\n", "text/plain");
  });
  int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) return Status::fatal("cannot listen on " + listen_ + " (http.listen): address in use or not available");
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listener_done_.store(true);
  });
  wait_until_listening();
  return bound;
}

// httplib's Server::stop() does nothing until the listener thread is inside listen():
// a stop() in that window (ldexport failing to open a sink just after start()) left
// the thread in accept() for good, and the process hung on exit. So both start() and
// stop() wait for the listener to be running first.
void StatusServer::wait_until_listening() {
  while (!server_->is_running() && !listener_done_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void StatusServer::stop() {
  if (!thread_.joinable()) return;
  wait_until_listening();
  if (!listener_done_.load()) server_->stop();
  thread_.join();
}

}  // namespace ldx
