#include "agent/leaf_hub.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/leaf_session.h"
#include "common/files.h"
#include "common/thread_start.h"

namespace edgetrust::agent {

LeafHub::LeafHub(LeafHubOptions options, SSL_CTX* ctx, store::MessageQueue& queue,
                 LeafRegistry& registry, Enroller& enroller)
    : options_(std::move(options)),
      ctx_(ctx),
      queue_(queue),
      registry_(registry),
      enroller_(enroller) {}

LeafHub::~LeafHub() { Stop(); }

Status LeafHub::Start() {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_pton(AF_INET, options_.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options_.port);
    len = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
             ::inet_pton(AF_INET6, options_.host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options_.port);
    len = sizeof(sockaddr_in6);
  } else {
    return Status(ErrorCode::kInvalidArgument,
                  "leaf hub: listen address " + options_.host + " is not an IP address");
  }
  listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status(ErrorCode::kIoError, "leaf hub: socket: " + ErrnoText(errno));
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 256) != 0) {
    const int err = errno;
    ::close(listen_fd_);
    listen_fd_ = -1;
    return Status(ErrorCode::kIoError, "leaf hub: cannot listen on " + options_.host + ":" +
                                           std::to_string(options_.port) + ": " + ErrnoText(err));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  bound_port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  spdlog::info("event=hub-listening address={}:{} port={} psk={}", options_.host, bound_port_,
               bound_port_, options_.psk);
  acceptor_ = StartThread([this] { AcceptLoop(); });
  return Status::Ok();
}

void LeafHub::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Running> sessions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : sessions_) r.session->Close("gateway stopping");
    sessions.swap(sessions_);
  }
  for (auto& r : sessions) {
    if (r.thread.joinable()) r.thread.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void LeafHub::ReapFinished() {
  std::list<Running> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->session->finished()) {
        done.splice(done.end(), sessions_, it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& r : done) {
    if (r.thread.joinable()) r.thread.join();
  }
}

void LeafHub::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    // Wakes now and then to reap finished connection threads.
    const int n = ::poll(fds, 2, 1000);
    ReapFinished();
    if (stopping_) break;
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (peer.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&peer);
      ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    } else if (peer.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&peer);
      ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    }
    const std::string address = std::string(host) + ":" + std::to_string(port);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_.size() >= options_.max_connections) {
      spdlog::warn("event=leaf-refused address={} reason=\"too many connections ({})\"", address,
                   options_.max_connections);
      ++stats_.refused_total["too-many-connections"];
      ::close(fd);
      continue;
    }
    ++stats_.accepted_total;
    auto session = std::make_shared<LeafSession>(*this, fd, address);
    sessions_.push_back(Running{session, StartThread([session] { session->Run(); })});
  }
}

void LeafHub::Register(LeafSession* session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(session->name());
  if (it != by_name_.end() && it->second != session) {
    it->second->Close("replaced by a new connection of the same leaf");
  }
  by_name_[session->name()] = session;
}

void LeafHub::Unregister(LeafSession* session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(session->name());
  if (it != by_name_.end() && it->second == session) by_name_.erase(it);
}

void LeafHub::Disconnect(std::string_view leaf, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  // Connections that have not sent CONNECT yet are refused by the registry when they do.
  auto it = by_name_.find(leaf);
  if (it != by_name_.end()) it->second->Close(reason);
}

void LeafHub::CommandsPending(std::string_view leaf) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(leaf);
  if (it != by_name_.end()) it->second->CommandsPending();
}

std::vector<ConnectedLeaf> LeafHub::Connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ConnectedLeaf> out;
  for (const auto& [name, s] : by_name_) {
    out.push_back(
        {name, std::string(s->auth_name()), s->address(), s->since_ms(), s->mqtt_version()});
  }
  return out;
}

HubStats LeafHub::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void LeafHub::CountRefused(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.refused_total[reason];
}
void LeafHub::CountReceived(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.received_total += n;
}
void LeafHub::CountAcked(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.acked_total += n;
}
void LeafHub::CountCommandDelivered() {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.commands_delivered_total;
}

}  // namespace edgetrust::agent
