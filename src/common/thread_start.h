// The one way our components start threads.
#pragma once

#include <spdlog/spdlog.h>

#include <thread>
#include <utility>

namespace edgetrust {

// Starts a thread after making sure spdlog's default logger exists. spdlog builds its registry on
// first use inside libspdlog.so; ThreadSanitizer does not see into that uninstrumented library, so
// the static guard that orders the construction is invisible to it, and a thread that logs first
// looks like it races with whoever logged second. Building the registry before the thread starts
// orders the two by thread creation, which TSan does see. After the first call it costs one read.
// Throws what std::thread throws (std::system_error), like std::thread.
template <typename F>
std::thread StartThread(F&& body) {
  (void)spdlog::default_logger_raw();
  return std::thread(std::forward<F>(body));
}

}  // namespace edgetrust
