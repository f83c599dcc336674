// Whole-buffer writes to file descriptors, retrying short writes and EINTR: the one loop every
// writer of ours (socket frames, state files, CLI outputs) goes through. And the receive buffer
// both ends of the secure-domain socket read frames through.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "edgetrust/secret.h"

namespace edgetrust {

// Sends every byte of the (at most 2) buffers with sendmsg(MSG_NOSIGNAL), so a closed peer is an
// EPIPE error, not a signal. Returns 0, or the errno of the failure.
int SendAll(int fd, const iovec* iov, int count);

// Writes every byte with write(). Returns 0, or the errno of the failure.
int WriteAll(int fd, ByteView data);

// A receive buffer for one stream socket. One recv() takes in whatever the peer has sent so far,
// so a small frame (header and body) costs one system call rather than one per part, and frames
// that arrive together (pipelining) cost one between them. Frames carry plaintexts and secrets:
// consumed bytes are wiped at once, the rest when the buffer is destroyed.
//
// Thread safety: none; one reader at a time.
class RecvBuffer {
 public:
  explicit RecvBuffer(size_t capacity) : capacity_(capacity) {}
  ~RecvBuffer();
  RecvBuffer(const RecvBuffer&) = delete;
  RecvBuffer& operator=(const RecvBuffer&) = delete;

  // The bytes received and not consumed yet.
  ByteView data() const { return {buf_.data() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }

  // Drops the first `n` buffered bytes (at most size()), wiping them.
  void Consume(size_t n);
  // Moves the first `n` buffered bytes (at most size()) to `out`, wiping them here.
  void Take(uint8_t* out, size_t n);

  // One recv(fd, ..., flags) into the free space, moving the unconsumed bytes to the front first
  // if that makes room. Retries EINTR. Returns the number of bytes received (> 0), 0 when the peer
  // closed the connection, or -errno (e.g. -EAGAIN under MSG_DONTWAIT). -ENOBUFS when the buffer
  // is full: the caller must consume, or read a large body past the buffer.
  ssize_t Fill(int fd, int flags);
  // Fill(fd, 0), but first polls without blocking for up to `spin`. Blocking in recv() puts the
  // thread to sleep, and waking it up again costs more than a small request itself once the CPU
  // went idle (measured here: a Unix-socket round trip between two idle cores takes 15 us, 6 us
  // when neither side sleeps). When the bytes come within `spin`, nobody slept. Never spins on a
  // machine with one CPU, where it would only delay the peer, and yields the CPU between polls,
  // so a spinning thread never keeps a runnable one (the peer, perhaps) waiting.
  ssize_t FillSpinning(int fd, std::chrono::microseconds spin);

 private:
  size_t capacity_;
  Bytes buf_;  // allocated on first Fill, so an idle connection costs no buffer
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace edgetrust
