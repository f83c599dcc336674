// Whole-buffer writes to file descriptors, retrying short writes and EINTR: the one loop every
// writer of ours (socket frames, state files, CLI outputs) goes through.
#pragma once

#include <sys/uio.h>

#include "edgetrust/secret.h"

namespace edgetrust {

// Sends every byte of the (at most 2) buffers with sendmsg(MSG_NOSIGNAL), so a closed peer is an
// EPIPE error, not a signal. Returns 0, or the errno of the failure.
int SendAll(int fd, const iovec* iov, int count);

// Writes every byte with write(). Returns 0, or the errno of the failure.
int WriteAll(int fd, ByteView data);

}  // namespace edgetrust
