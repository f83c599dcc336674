// The agent's control socket: a Unix stream socket where the CLI (`edgetrust status`,
// `edgetrust leaf ...`) asks the running agent things. Protocol in control_protocol.h.
//
// Each connection carries one request line and gets one response line, then is closed. Callers
// are identified by the kernel (SO_PEERCRED): only root and the agent's own user are served, on
// top of the socket's mode (0660); anyone else gets a "permission-denied" response. A request
// longer than kMaxRequestLineSize, not valid JSON, not a valid request, or not complete within
// the read timeout gets an error response, and the connection is closed. Valid requests go to the
// ControlHandler.
//
// Threads: one accept thread, and one thread per connection with at most max_connections at once
// (a caller over the limit gets a "resource-exhausted" response), so a slow caller delays nobody
// else and a silent one holds its thread for the read timeout at most.
//
// Thread safety: the handler is called from several connection threads at once and must be
// thread-safe. Stop() may be called from any thread but not from the handler.
// Ownership: the server borrows the handler, which must outlive it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "edgetrust/status.h"

namespace edgetrust::agent {

// Who is on the other end of a connection, as the kernel says.
struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  // Answers a request that passed ParseControlRequest, with OkResponse(...) or ErrorResponse(...)
  // (control_protocol.h). An exception becomes an "internal" error response; an answer that is
  // not an object with an "ok" boolean too.
  virtual nlohmann::json Handle(const nlohmann::json& request, const PeerCred& peer) = 0;
};

struct ControlServerOptions {
  mode_t socket_mode = 0660;
  size_t max_connections = 8;
  std::chrono::milliseconds read_timeout{5000};  // for the whole request line
};

class ControlServer {
 public:
  // Creates the socket at `socket_path` and starts serving. The parent folder is created (mode
  // 0750) when missing, its own parent must exist. A stale socket file nobody serves is replaced;
  // a live one is kAlreadyExists, as is a file that is not a socket. kInvalidArgument for a path
  // that does not fit a socket address; kIoError when the socket cannot be created.
  // `agent_uid`: the user besides root that may call.
  static Result<std::unique_ptr<ControlServer>> Start(std::string socket_path,
                                                      ControlHandler& handler, uid_t agent_uid,
                                                      ControlServerOptions options = {});
  ~ControlServer();  // Stop()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Stops accepting, ends the connections in progress (their threads are joined), and removes
  // the socket file if it is still ours. Idempotent.
  void Stop();

  const std::string& socket_path() const { return socket_path_; }

 private:
  struct Connection;
  ControlServer(std::string socket_path, ControlHandler& handler, uid_t agent_uid,
                ControlServerOptions options);
  Status Listen();
  void AcceptLoop();
  void Serve(Connection* conn);
  void ServeRequest(int fd, const PeerCred& peer);
  void ReapFinished();

  const std::string socket_path_;
  ControlHandler& handler_;
  const uid_t agent_uid_;
  const ControlServerOptions options_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  dev_t socket_dev_ = 0;  // the socket file we made, so Stop never removes a successor's
  ino_t socket_ino_ = 0;
  std::thread accept_thread_;
  std::mutex stop_mu_;  // serializes Stop()
  bool stopped_ = false;
  std::mutex conns_mu_;
  std::list<std::unique_ptr<Connection>> conns_;
  size_t active_ = 0;  // connections being served (under conns_mu_)
};

}  // namespace edgetrust::agent
