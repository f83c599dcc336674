// The secure domain's measurement registers and their event log.
//
// kRegisterCount extend-only SHA-256 registers (edgetrust/attestation.h: new = SHA-256(old ||
// digest)), all zero when the daemon starts, like TPM PCRs after a reset. Every extension is
// recorded in an append-only event log (sequence number, register, digest, principal,
// description, time), whose chained digest (ChainLogDigest) is kept alongside, so evidence can
// commit to the whole log in 32 bytes and a verifier can replay it.
//
// The log is bounded (kMaxLogEvents): once full, Extend fails with kResourceExhausted rather than
// extending a register without a record, which would make the log unverifiable.
//
// Thread safety: all methods may be called concurrently; one mutex guards the registers and the
// log together, so a snapshot is always consistent (registers == replay of the log).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/attestation.h"
#include "edgetrust/status.h"

namespace edgetrust::sd {

inline constexpr size_t kMaxLogEvents = 8192;
inline constexpr size_t kMaxEventDescription = 255;

class RegisterBank {
 public:
  // Called for every extension, under the bank's lock and before anything changes; an error
  // refuses the extension (a hardware mirror such as a TPM PCR must never fall behind the log).
  using Mirror = std::function<Status(uint32_t index, const Digest256& digest)>;
  RegisterBank() = default;
  explicit RegisterBank(Mirror mirror) : mirror_(std::move(mirror)) {}

  struct Extended {
    uint64_t seq = 0;
    Digest256 value{};
  };
  // kInvalidArgument for an index out of range or a description that is too long or not
  // printable; kResourceExhausted when the log is full. `time` is seconds since the epoch.
  Result<Extended> Extend(uint32_t index, const Digest256& digest, std::string_view principal,
                          std::string_view description, uint64_t time);
  RegisterSnapshot Snapshot() const;
  // Runs `fn` with a snapshot while no extension can happen, so what `fn` asks of the mirror (a
  // quote) matches the snapshot.
  template <typename Fn>
  auto WithSnapshot(Fn&& fn) const {
    std::lock_guard lock(mu_);
    return fn(static_cast<const RegisterSnapshot&>(state_));
  }
  // Events start, start+1, ... at most `max_events`; empty past the end.
  std::vector<LogEvent> LogPage(uint64_t start, size_t max_events) const;

 private:
  Mirror mirror_;
  mutable std::mutex mu_;
  RegisterSnapshot state_;
  std::vector<LogEvent> log_;
};

// Extends register 0 with what the secure domain is and how it is configured, before it serves
// anyone (docs/attestation.md, "Register 0"): one event naming the version and backend, one
// with the SHA-256 of the configuration file (policy included), or of nothing for defaults.
Status MeasureSelf(RegisterBank& bank, std::string_view version, std::string_view backend,
                   ByteView config_sha256, std::string_view config_path, uint64_t now);

// Printable ASCII or UTF-8 text without control characters, at most `max` bytes.
bool IsPrintableText(std::string_view text, size_t max);

}  // namespace edgetrust::sd
