#include "common/fd_io.h"

#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>

namespace edgetrust {

int SendAll(int fd, const iovec* iov_in, int count) {
  iovec iov[2];
  if (count < 0 || count > 2) return EINVAL;
  for (int i = 0; i < count; ++i) iov[i] = iov_in[i];
  int idx = 0;
  while (idx < count) {
    msghdr msg{};
    msg.msg_iov = iov + idx;
    msg.msg_iovlen = static_cast<size_t>(count - idx);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    size_t left = static_cast<size_t>(n);
    while (idx < count && left >= iov[idx].iov_len) {
      left -= iov[idx].iov_len;
      ++idx;
    }
    if (idx < count) {
      iov[idx].iov_base = static_cast<uint8_t*>(iov[idx].iov_base) + left;
      iov[idx].iov_len -= left;
    }
  }
  return 0;
}

int WriteAll(int fd, ByteView data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    off += static_cast<size_t>(n);
  }
  return 0;
}

RecvBuffer::~RecvBuffer() {
  if (end_ > begin_) SecureWipe(buf_.data() + begin_, end_ - begin_);
}

void RecvBuffer::Consume(size_t n) {
  n = std::min(n, size());
  SecureWipe(buf_.data() + begin_, n);
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

void RecvBuffer::Take(uint8_t* out, size_t n) {
  n = std::min(n, size());
  std::memcpy(out, buf_.data() + begin_, n);
  Consume(n);
}

ssize_t RecvBuffer::Fill(int fd, int flags) {
  if (buf_.empty()) buf_.resize(capacity_);
  if (end_ == capacity_ && begin_ > 0) {
    // Compact: the unconsumed tail moves to the front; its old place is wiped.
    const size_t n = end_ - begin_;
    std::memmove(buf_.data(), buf_.data() + begin_, n);
    SecureWipe(buf_.data() + n, end_ - n);
    begin_ = 0;
    end_ = n;
  }
  if (end_ == capacity_) return -ENOBUFS;
  for (;;) {
    ssize_t n = ::recv(fd, buf_.data() + end_, capacity_ - end_, flags);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return n;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    return -errno;
  }
}

ssize_t RecvBuffer::FillSpinning(int fd, std::chrono::microseconds spin) {
  static const bool single_cpu = std::thread::hardware_concurrency() <= 1;
  if (spin.count() > 0 && !single_cpu) {
    const auto end = std::chrono::steady_clock::now() + spin;
    do {
      ssize_t n = Fill(fd, MSG_DONTWAIT);
      if (n != -EAGAIN && n != -EWOULDBLOCK) return n;
      // Any thread that wants this CPU gets it: the peer we wait for may be one of them. Without
      // this, two clients and two daemon threads on two cores ran at 0.4x of blocking reads.
      ::sched_yield();
    } while (std::chrono::steady_clock::now() < end);
  }
  return Fill(fd, 0);
}

}  // namespace edgetrust
