// Anti-rollback for deployments: a manifest is accepted only when its sequence is greater than
// the last accepted one (docs/deployment.md, "Freshness").
//
// The last accepted sequence lives in <state>/deploy-freshness.json, MAC'd by the secure-domain
// key "deploy-freshness-mac" and bound to the secure-domain monotonic counter "deploy-accepts":
// every acceptance first writes the file with the sequence and the counter's next value, then
// increments the counter; a file one ahead of the counter is an acceptance a crash interrupted,
// and loading completes it. A state file that does not verify, or whose counter value is behind
// the counter (an old copy put back), is kTampered and every manifest is refused until an operator
// resets the state (Freshness::Reset; there is no command for it yet, docs/operations.md). A
// missing state file while the counter is above 0 is kTampered too: deleting the state must not
// reset freshness. A state file while the counter does not exist is kTampered (the counter is
// created before the first file is written).
//
// Thread safety: one Freshness per state folder, used from one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "edgetrust/client.h"
#include "edgetrust/status.h"

namespace edgetrust::deploy {

inline constexpr char kFreshnessMacKey[] = "deploy-freshness-mac";
inline constexpr char kFreshnessCounter[] = "deploy-accepts";

class Freshness {
 public:
  Freshness(Client& sd, std::string state_dir) : sd_(sd), state_dir_(std::move(state_dir)) {}

  // The last accepted sequence (0 when none was ever accepted). kTampered as above.
  Result<uint64_t> LastAccepted();
  // kFailedPrecondition "manifest sequence N is not newer than the last accepted M" when
  // sequence <= LastAccepted().
  Status Check(uint64_t sequence);
  // Records `sequence` as accepted (Check first). Crash-safe as above.
  Status Accept(uint64_t sequence, const std::string& manifest_digest);
  // Re-anchors the state at the counter's current value keeping `sequence` as the last accepted.
  Status Reset(uint64_t sequence);

  // <state>/deploy-freshness.json.
  std::string StatePath() const;
  // Test seam: only the first step of Accept (the state file written one ahead of the counter,
  // the counter not incremented), which is what a crash between the two steps leaves behind.
  Status WriteAheadForTesting(uint64_t sequence, const std::string& manifest_digest);

 private:
  struct State {
    uint64_t sequence = 0;
    uint64_t counter = 0;
    std::string digest;
  };
  // The verified state file, or nullopt when there is none.
  Result<std::optional<State>> ReadState();
  Status WriteState(const State& state);
  Result<Bytes> MacOf(const State& state);
  // The counter's value, creating it (at 0) when missing.
  Result<uint64_t> EnsureCounter();
  Status EnsureMacKey();
  // Step 1 of Accept: the file at the counter's next value. Returns that value.
  Result<uint64_t> WriteAhead(uint64_t sequence, const std::string& manifest_digest);

  Client& sd_;
  std::string state_dir_;
};

}  // namespace edgetrust::deploy
