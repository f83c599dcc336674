// The daemon's Unix-socket server: accepts connections, identifies each caller once (SO_PEERCRED
// and cgroup), then serves framed requests on that connection until it closes.
//
// One thread per connection: requests on one connection are answered in order (clients may still
// pipeline: send many, read answers by id), different connections run on different cores, and
// a slow or hostile client only ever holds up its own thread. The accept loop blocks in poll() on
// the listening socket and a wake-up pipe, never sleeps on a timer. Limits: max_connections at
// once (the next caller gets a kResourceExhausted answer), a whole frame must arrive within
// frame_timeout once it started, and a bad magic or oversized length closes the connection.
//
// Thread safety: Run() on one thread; Stop() from any thread or a signal handler
// (async-signal-safe).
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "edgetrust/status.h"
#include "sd/dispatcher.h"

namespace edgetrust::sd {

struct ServerOptions {
  std::string socket_path;
  mode_t socket_mode = 0666;  // every local user may connect; principals isolate them
  size_t max_connections = 256;
  size_t max_connections_per_principal = 64;  // one user cannot take every slot
  std::chrono::milliseconds frame_timeout{10000};
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
};

class Server {
 public:
  Server(ServerOptions options, Dispatcher& dispatcher);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Replaces a stale socket file that nobody serves; refuses a live one.
  Status Listen();
  // Serves until Stop(); then closes every connection and joins their threads.
  Status Run();
  // Async-signal-safe.
  void Stop();

 private:
  struct Connection;
  void Serve(Connection* conn);
  void ServeFrames(Connection* conn);
  Result<protocol::Message> HandleNoThrow(const Peer& peer, protocol::Opcode op,
                                          const protocol::Message& request);
  void ReapFinished();

  ServerOptions options_;
  Dispatcher& dispatcher_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::mutex conns_mu_;
  std::list<std::unique_ptr<Connection>> conns_;
  std::atomic<size_t> active_{0};  // connection threads still serving
};

}  // namespace edgetrust::sd
