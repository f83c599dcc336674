#include "ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <random>

namespace edgetrust::test {
namespace {

constexpr int kFirstPort = 20000;
constexpr int kEndPort = 32000;  // below Linux's default ephemeral range, 32768-60999
constexpr int kTries = 200;

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool CanBind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = Loopback(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

int RandomPort(int span) {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_int_distribution<int>(kFirstPort, kEndPort - span)(rng);
}

}  // namespace

int PickLoopbackPort() {
  for (int i = 0; i < kTries; ++i) {
    const int port = RandomPort(1);
    if (CanBind(port)) return port;
  }
  return -1;
}

int PickLoopbackPortPair() {
  for (int i = 0; i < kTries; ++i) {
    const int port = RandomPort(2);
    if (CanBind(port) && CanBind(port + 1)) return port;
  }
  return -1;
}

bool LoopbackAccepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = Loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace edgetrust::test
