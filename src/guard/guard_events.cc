#include "guard/guard_events.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace edgetrust::guard {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string Rfc3339Ms(int64_t unix_ms) {
  const time_t secs = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

GuardEvents::GuardEvents(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    file_bytes_ += line.size() + 1;
    auto j = nlohmann::json::parse(line, nullptr, false);
    // A torn last line (a crash mid-write) or a foreign line is skipped, never fatal.
    if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned()) continue;
    next_seq_ = std::max(next_seq_, j["seq"].get<uint64_t>() + 1);
    recent_.push_back(std::move(j));
    if (recent_.size() > kMemoryEvents) recent_.pop_front();
  }
}

nlohmann::json GuardEvents::Add(nlohmann::json event) {
  std::lock_guard<std::mutex> lock(mu_);
  event["seq"] = next_seq_++;
  if (!event.contains("time_ms")) event["time_ms"] = NowMs();
  if (!event.contains("time")) event["time"] = Rfc3339Ms(event["time_ms"].get<int64_t>());
  recent_.push_back(event);
  if (recent_.size() > kMemoryEvents) recent_.pop_front();
  Append(event);
  return event;
}

void GuardEvents::Append(const nlohmann::json& event) {
  if (path_.empty()) return;
  const std::string line =
      event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (file_bytes_ + line.size() > kMaxFileBytes) {
    if (std::rename(path_.c_str(), (path_ + ".1").c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("event=guard-events-rotate-failed path={} errno={}", path_, errno);
    }
    file_bytes_ = 0;
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    spdlog::warn("event=guard-events-write-failed path={} errno={}", path_, errno);
    return;
  }
  const ssize_t n = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (n == static_cast<ssize_t>(line.size())) file_bytes_ += line.size();
}

nlohmann::json GuardEvents::Recent(size_t limit, const std::string& module) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<nlohmann::json> picked;
  for (auto it = recent_.rbegin(); it != recent_.rend() && picked.size() < limit; ++it) {
    if (!module.empty() && it->value("module", "") != module) continue;
    picked.push_front(*it);
  }
  return nlohmann::json(picked);
}

}  // namespace edgetrust::guard
