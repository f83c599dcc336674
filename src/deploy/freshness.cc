// Anti-rollback state of deployments (freshness.h, docs/deployment.md "Freshness").
#include "deploy/freshness.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/files.h"
#include "common/hex.h"

namespace edgetrust::deploy {
namespace {

using nlohmann::json;

constexpr char kStateFile[] = "deploy-freshness.json";
constexpr char kStateFormat[] = "edgetrust-deploy-freshness/1";
constexpr size_t kMaxStateBytes = 4096;

Status Tampered(const std::string& message) {
  return Status(ErrorCode::kTampered, "deployment freshness state: " + message +
                                          "; every manifest is refused until an operator resets it "
                                          "(docs/operations.md, \"tampered freshness\")");
}

bool IsDigestHex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// What the MAC covers: domain-separated, one field per line, so nothing else the key MACs can be
// taken for a state.
std::string MacInput(uint64_t sequence, uint64_t counter, const std::string& digest) {
  return std::string(kStateFormat) + "\nsequence=" + std::to_string(sequence) +
         "\ncounter=" + std::to_string(counter) + "\ndigest=" + digest + "\n";
}

}  // namespace

std::string Freshness::StatePath() const { return state_dir_ + "/" + kStateFile; }

Result<Bytes> Freshness::MacOf(const State& state) {
  const std::string input = MacInput(state.sequence, state.counter, state.digest);
  return sd_.Mac(kFreshnessMacKey, AsBytes(input));
}

Status Freshness::EnsureMacKey() {
  auto keys = sd_.ListKeys();
  if (!keys.ok()) return keys.status();
  for (const auto& k : *keys) {
    if (k.name != kFreshnessMacKey) continue;
    if (k.type != KeyTypeName(KeyType::kHmacSha256)) {
      return Status(ErrorCode::kFailedPrecondition, std::string("key ") + kFreshnessMacKey +
                                                        " exists but is not an hmac-sha256 key");
    }
    return Status::Ok();
  }
  auto created = sd_.CreateKey(kFreshnessMacKey, KeyType::kHmacSha256);
  if (!created.ok() && created.status().code() != ErrorCode::kAlreadyExists) {
    return created.status();
  }
  return Status::Ok();
}

Result<uint64_t> Freshness::EnsureCounter() {
  auto value = sd_.ReadCounter(kFreshnessCounter);
  if (value.ok() || value.status().code() != ErrorCode::kNotFound) return value;
  auto created = sd_.CreateCounter(kFreshnessCounter);
  if (created.ok() || created.status().code() != ErrorCode::kAlreadyExists) return created;
  return sd_.ReadCounter(kFreshnessCounter);
}

Result<std::optional<Freshness::State>> Freshness::ReadState() {
  auto bytes = ReadFile(StatePath(), kMaxStateBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) return std::optional<State>();
    if (bytes.status().code() == ErrorCode::kTooLarge) {
      return Tampered(StatePath() + " is larger than " + std::to_string(kMaxStateBytes) + " bytes");
    }
    return bytes.status();
  }
  const json doc = json::parse(bytes->begin(), bytes->end(), nullptr, false);
  auto field = [&](const char* key) -> const json* {
    if (!doc.is_object()) return nullptr;
    auto it = doc.find(key);
    return it == doc.end() ? nullptr : &*it;
  };
  const json* format = field("format");
  const json* sequence = field("sequence");
  const json* counter = field("counter");
  const json* digest = field("digest");
  const json* mac = field("mac");
  if (doc.is_discarded() || !doc.is_object() || doc.size() != 5 || format == nullptr ||
      !format->is_string() || *format != kStateFormat || sequence == nullptr ||
      !sequence->is_number_unsigned() || counter == nullptr || !counter->is_number_unsigned() ||
      digest == nullptr || !digest->is_string() || mac == nullptr || !mac->is_string()) {
    return Tampered(StatePath() + " is not a valid state file");
  }
  State state{sequence->get<uint64_t>(), counter->get<uint64_t>(), digest->get<std::string>()};
  if (!state.digest.empty() && !IsDigestHex(state.digest)) {
    return Tampered(StatePath() + " holds a malformed digest");
  }
  auto mac_bytes = HexDecode(mac->get<std::string>());
  if (!mac_bytes.ok()) return Tampered(StatePath() + " holds a malformed MAC");
  const std::string mac_input = MacInput(state.sequence, state.counter, state.digest);
  auto verified = sd_.MacVerify(kFreshnessMacKey, AsBytes(mac_input), *mac_bytes);
  if (!verified.ok()) {
    if (verified.status().code() == ErrorCode::kNotFound) {
      return Tampered(std::string("the secure-domain key ") + kFreshnessMacKey +
                      " that authenticates " + StatePath() + " does not exist");
    }
    return verified.status();
  }
  if (!*verified) return Tampered(StatePath() + " does not verify (its MAC is wrong)");
  return std::optional<State>(std::move(state));
}

Status Freshness::WriteState(const State& state) {
  ET_ASSIGN_OR_RETURN(Bytes mac, MacOf(state));
  const json doc = {{"format", kStateFormat},
                    {"sequence", state.sequence},
                    {"counter", state.counter},
                    {"digest", state.digest},
                    {"mac", HexEncode(mac)}};
  const std::string text = doc.dump() + "\n";
  return WriteFileAtomic(StatePath(), AsBytes(text), 0600, WriteMode::kReplace);
}

Result<uint64_t> Freshness::LastAccepted() {
  uint64_t counter = 0;
  bool counter_exists = true;
  auto value = sd_.ReadCounter(kFreshnessCounter);
  if (value.ok()) {
    counter = *value;
  } else if (value.status().code() == ErrorCode::kNotFound) {
    counter_exists = false;
  } else {
    return value.status();
  }
  ET_ASSIGN_OR_RETURN(std::optional<State> state, ReadState());
  if (!state) {
    if (counter == 0) return uint64_t{0};
    return Tampered(StatePath() + " is missing but the counter " + kFreshnessCounter + " is " +
                    std::to_string(counter) + " (deleting the state does not reset freshness)");
  }
  if (!counter_exists) {
    return Tampered(StatePath() + " exists but the secure-domain counter " + kFreshnessCounter +
                    " does not");
  }
  if (state->counter == counter) return state->sequence;
  if (counter != UINT64_MAX && state->counter == counter + 1) {
    // An acceptance a crash interrupted after writing the file: complete it.
    ET_ASSIGN_OR_RETURN(uint64_t now, sd_.IncrementCounter(kFreshnessCounter));
    if (now != state->counter) {
      return Tampered("the counter moved to " + std::to_string(now) +
                      " while completing an interrupted acceptance at " +
                      std::to_string(state->counter));
    }
    spdlog::info("deployment freshness: completed the interrupted acceptance of sequence {}",
                 state->sequence);
    return state->sequence;
  }
  if (state->counter < counter) {
    return Tampered(StatePath() + " is an old copy: it was written at counter " +
                    std::to_string(state->counter) + " but the counter is " +
                    std::to_string(counter));
  }
  return Tampered(StatePath() + " claims counter " + std::to_string(state->counter) +
                  ", ahead of the counter's " + std::to_string(counter));
}

Status Freshness::Check(uint64_t sequence) {
  ET_ASSIGN_OR_RETURN(uint64_t last, LastAccepted());
  if (sequence <= last) {
    return Status(ErrorCode::kFailedPrecondition, "manifest sequence " + std::to_string(sequence) +
                                                      " is not newer than the last accepted " +
                                                      std::to_string(last));
  }
  return Status::Ok();
}

Result<uint64_t> Freshness::WriteAhead(uint64_t sequence, const std::string& manifest_digest) {
  if (!manifest_digest.empty() && !IsDigestHex(manifest_digest)) {
    return Status(ErrorCode::kInvalidArgument, "manifest digest must be 64 lower-case hex digits");
  }
  ET_RETURN_IF_ERROR(Check(sequence));
  ET_RETURN_IF_ERROR(EnsureMacKey());
  ET_ASSIGN_OR_RETURN(uint64_t counter, EnsureCounter());
  if (counter == UINT64_MAX) return Status(ErrorCode::kResourceExhausted, "counter exhausted");
  ET_RETURN_IF_ERROR(WriteState({sequence, counter + 1, manifest_digest}));
  return counter + 1;
}

Status Freshness::WriteAheadForTesting(uint64_t sequence, const std::string& manifest_digest) {
  auto next = WriteAhead(sequence, manifest_digest);
  return next.ok() ? Status::Ok() : next.status();
}

Status Freshness::Accept(uint64_t sequence, const std::string& manifest_digest) {
  ET_ASSIGN_OR_RETURN(uint64_t expected, WriteAhead(sequence, manifest_digest));
  ET_ASSIGN_OR_RETURN(uint64_t now, sd_.IncrementCounter(kFreshnessCounter));
  if (now != expected) {
    return Tampered("the counter moved to " + std::to_string(now) + " instead of " +
                    std::to_string(expected) + " while accepting sequence " +
                    std::to_string(sequence));
  }
  return Status::Ok();
}

Status Freshness::Reset(uint64_t sequence) {
  ET_RETURN_IF_ERROR(EnsureMacKey());
  ET_ASSIGN_OR_RETURN(uint64_t counter, EnsureCounter());
  ET_RETURN_IF_ERROR(WriteState({sequence, counter, ""}));
  spdlog::warn("deployment freshness: state reset at counter {}, last accepted sequence now {}",
               counter, sequence);
  return Status::Ok();
}

}  // namespace edgetrust::deploy
