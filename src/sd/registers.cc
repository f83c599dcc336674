#include "sd/registers.h"

#include <openssl/sha.h>

#include <algorithm>

namespace edgetrust::sd {

bool IsPrintableText(std::string_view text, size_t max) {
  if (text.size() > max) return false;
  // Control characters would let one event forge the look of another in logs and listings;
  // bytes >= 0x80 are UTF-8 (the protocol's String fields are checked for valid UTF-8).
  return std::none_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

Result<RegisterBank::Extended> RegisterBank::Extend(uint32_t index, const Digest256& digest,
                                                    std::string_view principal,
                                                    std::string_view description, uint64_t time) {
  if (index >= kRegisterCount) {
    return Status(ErrorCode::kInvalidArgument, "register " + std::to_string(index) +
                                                   " does not exist (0 to " +
                                                   std::to_string(kRegisterCount - 1) + ")");
  }
  if (!IsPrintableText(description, kMaxEventDescription)) {
    return Status(ErrorCode::kInvalidArgument,
                  "event description must be at most 255 bytes of printable text");
  }
  std::lock_guard lock(mu_);
  if (log_.size() >= kMaxLogEvents) {
    return Status(ErrorCode::kResourceExhausted,
                  "the event log is full (" + std::to_string(kMaxLogEvents) +
                      " events); registers reset when edgetrust-sd restarts");
  }
  if (mirror_) ET_RETURN_IF_ERROR(mirror_(index, digest));
  LogEvent event;
  event.seq = log_.size();
  event.register_index = index;
  event.digest = digest;
  event.principal = std::string(principal);
  event.description = std::string(description);
  event.time = time;
  state_.values[index] = ExtendRegisterValue(state_.values[index], digest);
  state_.log_digest = ChainLogDigest(state_.log_digest, event);
  state_.log_count = log_.size() + 1;
  log_.push_back(std::move(event));
  return Extended{state_.log_count - 1, state_.values[index]};
}

Status MeasureSelf(RegisterBank& bank, std::string_view version, std::string_view backend,
                   ByteView config_sha256, std::string_view config_path, uint64_t now) {
  constexpr std::string_view kSelf = "edgetrust-sd";
  auto sha256 = [](std::string_view text) {
    Digest256 d{};
    SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), d.data());
    return d;
  };
  const std::string identity =
      "edgetrust-sd " + std::string(version) + ", backend " + std::string(backend);
  auto first = bank.Extend(0, sha256(identity), kSelf, identity, now);
  if (!first.ok()) return first.status();
  Digest256 config{};
  std::string description;
  if (config_sha256.size() == config.size()) {
    std::copy(config_sha256.begin(), config_sha256.end(), config.begin());
    description = "configuration file " + std::string(config_path);
    if (!IsPrintableText(description, kMaxEventDescription)) description = "configuration file";
  } else {
    config = sha256("");
    description = "built-in default configuration (no file)";
  }
  auto second = bank.Extend(0, config, kSelf, description, now);
  return second.ok() ? Status::Ok() : second.status();
}

RegisterSnapshot RegisterBank::Snapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::vector<LogEvent> RegisterBank::LogPage(uint64_t start, size_t max_events) const {
  std::lock_guard lock(mu_);
  std::vector<LogEvent> out;
  if (start >= log_.size()) return out;
  const size_t end = static_cast<size_t>(std::min<uint64_t>(log_.size(), start + max_events));
  out.assign(log_.begin() + static_cast<std::ptrdiff_t>(start),
             log_.begin() + static_cast<std::ptrdiff_t>(end));
  return out;
}

}  // namespace edgetrust::sd
