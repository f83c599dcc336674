// SHA-256 of open files for the guard (HashFd and HashFile of image_index.h are built on it), with
// an optional deadline for the monitor's thread, which must answer the kernel in time.
//
// Thread safety: safe from any thread (each thread has its own read buffer).
// Errors: kIoError when a read fails; kTooLarge past max_bytes; kUnavailable when the deadline
// passed before the whole file was read (the caller's fail policy decides).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "edgetrust/status.h"

namespace edgetrust::guard {

inline constexpr size_t kHashChunk = 256 * 1024;

// Hashes the file from offset 0 with pread in kHashChunk pieces. The deadline is checked between
// pieces, only while more data is expected (by fstat's size), so a file of one piece always
// completes, and a deadline in the past stops a larger file after its first piece.
Result<std::string> HashFdUntil(int fd, uint64_t max_bytes,
                                std::chrono::steady_clock::time_point deadline);

// SHA-256 of `data`, 64 lower-case hex.
std::string Sha256Hex(const void* data, size_t size);

}  // namespace edgetrust::guard
