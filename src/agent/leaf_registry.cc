#include "agent/leaf_registry.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "attest/json_util.h"
#include "common/files.h"
#include "common/hex.h"

namespace edgetrust::agent {
namespace {

using nlohmann::json;

constexpr int kFormatVersion = 1;
constexpr size_t kTokenBytes = 32;
// A token is 43 characters; anything much longer is not one of ours and is not even hashed.
constexpr size_t kMaxTokenLength = 256;
constexpr mode_t kFileMode = 0600;

// The fields of one leaf in the file, in the order Serialize writes them.
constexpr std::array<std::string_view, 10> kLeafFields = {"name",
                                                          "auth",
                                                          "state",
                                                          "created_ms",
                                                          "token_sha256_hex",
                                                          "token_expires_ms",
                                                          "token_used",
                                                          "enrolled_ms",
                                                          "cert_serial_hex",
                                                          "revoked_ms"};

std::string Base64Url(ByteView bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::array<uint8_t, 32> Sha256(std::string_view text) {
  std::array<uint8_t, 32> digest{};
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != digest.size()) {
    // Only an out-of-memory OpenSSL fails here; a zero digest never matches a stored one.
    digest.fill(0);
  }
  return digest;
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A certificate serial as we store and compare it: lower-case hex without leading zeros ("0"
// for zero). Empty when `hex` is not hex or too long.
std::string CanonicalSerial(std::string_view hex) {
  if (hex.empty() || hex.size() > kMaxCertSerialHexLength) return {};
  std::string out;
  for (char c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
    if (out.empty() && c == '0') continue;
    out.push_back(c);
  }
  return out.empty() ? "0" : out;
}

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

// --- Parsing ----------------------------------------------------------------------------------

Status Bad(const std::string& why) {
  return Status(ErrorCode::kMalformed, "leaf registry: " + why);
}

Result<std::string> GetString(const json& obj, std::string_view key, const std::string& where) {
  const json& v = obj.at(std::string(key));
  if (!v.is_string()) {
    return Bad(where + ": \"" + std::string(key) + "\" is " + attest::JsonTypeName(v) +
               ", not a string");
  }
  return v.get<std::string>();
}

Result<int64_t> GetTime(const json& obj, std::string_view key, const std::string& where) {
  const json& v = obj.at(std::string(key));
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(u);
    }
  }
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    return Bad(where + ": \"" + std::string(key) + "\" is negative");
  }
  return Bad(where + ": \"" + std::string(key) + "\" is " + attest::JsonTypeName(v) +
             ", not a time in milliseconds");
}

Result<LeafRecord> ParseLeaf(const json& v, size_t index) {
  std::string where = "leaf #" + std::to_string(index + 1);
  if (!v.is_object()) return Bad(where + " is " + attest::JsonTypeName(v) + ", not an object");
  for (const auto& [key, value] : v.items()) {
    if (std::find(kLeafFields.begin(), kLeafFields.end(), key) == kLeafFields.end()) {
      return Bad(where + ": unknown field \"" + std::string(key) + "\"");
    }
  }
  for (std::string_view key : kLeafFields) {
    if (!v.contains(std::string(key))) {
      return Bad(where + ": missing field \"" + std::string(key) + "\"");
    }
  }
  LeafRecord r;
  ET_ASSIGN_OR_RETURN(r.name, GetString(v, "name", where));
  if (!LeafRegistry::IsValidName(r.name)) return Bad(where + ": invalid name");
  where = "leaf '" + r.name + "'";
  ET_ASSIGN_OR_RETURN(std::string auth, GetString(v, "auth", where));
  auto parsed_auth = LeafRegistry::ParseAuth(auth);
  if (!parsed_auth.ok()) return Bad(where + ": " + parsed_auth.status().message());
  r.auth = *parsed_auth;
  ET_ASSIGN_OR_RETURN(std::string state, GetString(v, "state", where));
  auto parsed_state = LeafRegistry::ParseState(state);
  if (!parsed_state.ok()) return Bad(where + ": " + parsed_state.status().message());
  r.state = *parsed_state;
  ET_ASSIGN_OR_RETURN(r.created_ms, GetTime(v, "created_ms", where));
  ET_ASSIGN_OR_RETURN(r.token_sha256_hex, GetString(v, "token_sha256_hex", where));
  ET_ASSIGN_OR_RETURN(r.token_expires_ms, GetTime(v, "token_expires_ms", where));
  const json& used = v.at("token_used");
  if (!used.is_boolean()) {
    return Bad(where + ": \"token_used\" is " + attest::JsonTypeName(used) + ", not a boolean");
  }
  r.token_used = used.get<bool>();
  ET_ASSIGN_OR_RETURN(r.enrolled_ms, GetTime(v, "enrolled_ms", where));
  ET_ASSIGN_OR_RETURN(r.cert_serial_hex, GetString(v, "cert_serial_hex", where));
  ET_ASSIGN_OR_RETURN(r.revoked_ms, GetTime(v, "revoked_ms", where));

  // What the registry itself can produce, and nothing else: a file edited into an impossible
  // state must not admit anyone by accident.
  const bool has_token = !r.token_sha256_hex.empty();
  if (has_token && (r.token_sha256_hex.size() != 64 || !IsLowerHex(r.token_sha256_hex))) {
    return Bad(where + ": token_sha256_hex is not 64 lower-case hex digits");
  }
  if (!r.cert_serial_hex.empty() && CanonicalSerial(r.cert_serial_hex) != r.cert_serial_hex) {
    return Bad(where + ": cert_serial_hex is not a lower-case hex serial without leading zeros");
  }
  if (r.auth == LeafAuth::kEnrollment && !has_token) {
    return Bad(where + ": an enrollment leaf without a token");
  }
  if (r.auth == LeafAuth::kEnrollment && r.state == LeafState::kActive) {
    return Bad(where + ": an active leaf still marked as enrolling");
  }
  if (r.state == LeafState::kPending && (r.auth != LeafAuth::kEnrollment || r.token_used)) {
    return Bad(where + ": a pending leaf needs an unused enrollment token");
  }
  if (r.auth == LeafAuth::kPsk && (has_token || !r.cert_serial_hex.empty())) {
    return Bad(where + ": a PSK leaf with a token or certificate serial");
  }
  if (r.token_used != (r.enrolled_ms != 0) || (r.token_used && !has_token)) {
    return Bad(where + ": token_used, enrolled_ms and the token disagree");
  }
  if (r.token_used != !r.cert_serial_hex.empty()) {
    return Bad(where + ": an enrolled leaf needs its certificate serial (and only it)");
  }
  if (!has_token && r.token_expires_ms != 0) {
    return Bad(where + ": token_expires_ms without a token");
  }
  if ((r.state == LeafState::kRevoked) != (r.revoked_ms != 0)) {
    return Bad(where + ": revoked_ms must be set exactly when the leaf is revoked");
  }
  return r;
}

json LeafToJson(const LeafRecord& r) {
  return {{"name", r.name},
          {"auth", std::string(LeafRegistry::AuthName(r.auth))},
          {"state", std::string(LeafRegistry::StateName(r.state))},
          {"created_ms", r.created_ms},
          {"token_sha256_hex", r.token_sha256_hex},
          {"token_expires_ms", r.token_expires_ms},
          {"token_used", r.token_used},
          {"enrolled_ms", r.enrolled_ms},
          {"cert_serial_hex", r.cert_serial_hex},
          {"revoked_ms", r.revoked_ms}};
}

bool NameLess(const LeafRecord& a, std::string_view b) { return a.name < b; }

}  // namespace

Result<std::vector<LeafRecord>> ParseLeafRegistry(std::string_view text) {
  if (text.size() > kMaxRegistryFileSize) {
    return Status(ErrorCode::kTooLarge, "leaf registry: " + std::to_string(text.size()) +
                                            " bytes, more than the limit of " +
                                            std::to_string(kMaxRegistryFileSize));
  }
  attest::JsonLimits limits;
  limits.max_bytes = kMaxRegistryFileSize;
  limits.max_values = 16 * kMaxLeaves + 16;  // 11 values per leaf, and some slack
  limits.max_depth = 4;
  auto doc = attest::ParseStrictJson(text, "leaf registry", limits);
  if (!doc.ok()) return Status(ErrorCode::kMalformed, doc.status().message());
  if (!doc->is_object()) return Bad("not a JSON object");
  for (const auto& [key, value] : doc->items()) {
    if (key != "version" && key != "leaves") return Bad("unknown field \"" + key + "\"");
  }
  if (!doc->contains("version") || !doc->contains("leaves")) {
    return Bad("needs \"version\" and \"leaves\"");
  }
  const json& version = doc->at("version");
  if (!version.is_number_integer() || version.get<int64_t>() != kFormatVersion) {
    return Bad("unsupported version " + version.dump() + " (this agent reads version " +
               std::to_string(kFormatVersion) + ")");
  }
  const json& array = doc->at("leaves");
  if (!array.is_array()) return Bad("\"leaves\" is " + attest::JsonTypeName(array));
  if (array.size() > kMaxLeaves) {
    return Bad(std::to_string(array.size()) + " leaves, more than the limit of " +
               std::to_string(kMaxLeaves));
  }
  std::vector<LeafRecord> leaves;
  leaves.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    ET_ASSIGN_OR_RETURN(LeafRecord r, ParseLeaf(array[i], i));
    leaves.push_back(std::move(r));
  }
  std::sort(leaves.begin(), leaves.end(),
            [](const LeafRecord& a, const LeafRecord& b) { return a.name < b.name; });
  for (size_t i = 1; i < leaves.size(); ++i) {
    if (leaves[i].name == leaves[i - 1].name) {
      return Bad("leaf '" + leaves[i].name + "' is listed twice");
    }
  }
  return leaves;
}

std::string SerializeLeafRegistry(const std::vector<LeafRecord>& leaves) {
  // One leaf per line: readable, and diffable by an operator looking at what changed.
  std::string out = "{\"version\": " + std::to_string(kFormatVersion) + ", \"leaves\": [";
  for (size_t i = 0; i < leaves.size(); ++i) {
    out += i == 0 ? "\n  " : ",\n  ";
    out += LeafToJson(leaves[i]).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  out += leaves.empty() ? "]}\n" : "\n]}\n";
  return out;
}

// --- LeafRegistry -----------------------------------------------------------------------------

LeafRegistry::LeafRegistry(std::string path, std::vector<LeafRecord> leaves)
    : path_(std::move(path)), leaves_(std::move(leaves)) {}

Result<std::unique_ptr<LeafRegistry>> LeafRegistry::Open(std::string path) {
  std::vector<LeafRecord> leaves;
  auto bytes = ReadFile(path, kMaxRegistryFileSize);
  if (!bytes.ok()) {
    if (bytes.status().code() != ErrorCode::kNotFound) return bytes.status();
  } else {
    std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    auto parsed = ParseLeafRegistry(text);
    if (!parsed.ok()) {
      return Status(parsed.status().code(), path + ": " + parsed.status().message());
    }
    leaves = std::move(parsed).value();
  }
  return std::unique_ptr<LeafRegistry>(new LeafRegistry(std::move(path), std::move(leaves)));
}

bool LeafRegistry::IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto alnum = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::string_view LeafRegistry::AuthName(LeafAuth auth) {
  switch (auth) {
    case LeafAuth::kCertificate:
      return "certificate";
    case LeafAuth::kPsk:
      return "psk";
    case LeafAuth::kEnrollment:
      return "enrollment";
  }
  return "unknown";
}

std::string_view LeafRegistry::StateName(LeafState state) {
  switch (state) {
    case LeafState::kPending:
      return "pending";
    case LeafState::kActive:
      return "active";
    case LeafState::kRevoked:
      return "revoked";
  }
  return "unknown";
}

Result<LeafAuth> LeafRegistry::ParseAuth(std::string_view name) {
  for (LeafAuth a : {LeafAuth::kCertificate, LeafAuth::kPsk, LeafAuth::kEnrollment}) {
    if (AuthName(a) == name) return a;
  }
  return Status(ErrorCode::kInvalidArgument, "unknown authentication \"" + std::string(name) +
                                                 "\" (expected certificate, psk or enrollment)");
}

Result<LeafState> LeafRegistry::ParseState(std::string_view name) {
  for (LeafState s : {LeafState::kPending, LeafState::kActive, LeafState::kRevoked}) {
    if (StateName(s) == name) return s;
  }
  return Status(ErrorCode::kInvalidArgument, "unknown state \"" + std::string(name) +
                                                 "\" (expected pending, active or revoked)");
}

const LeafRecord* LeafRegistry::FindLocked(std::string_view name) const {
  auto it = std::lower_bound(leaves_.begin(), leaves_.end(), name, NameLess);
  return it != leaves_.end() && it->name == name ? &*it : nullptr;
}

LeafRecord* LeafRegistry::FindLocked(std::string_view name) {
  auto it = std::lower_bound(leaves_.begin(), leaves_.end(), name, NameLess);
  return it != leaves_.end() && it->name == name ? &*it : nullptr;
}

Result<LeafRegistry::Slot> LeafRegistry::SlotForNewLocked(std::string_view name) const {
  if (!IsValidName(name)) {
    return Status(ErrorCode::kInvalidArgument,
                  "invalid leaf name " + Quoted(name.substr(0, 80)) +
                      ": 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
  }
  auto it = std::lower_bound(leaves_.begin(), leaves_.end(), name, NameLess);
  const auto index = static_cast<size_t>(it - leaves_.begin());
  if (it != leaves_.end() && it->name == name) {
    if (it->state != LeafState::kRevoked) {
      return Status(ErrorCode::kAlreadyExists, "leaf " + Quoted(name) + " already exists (" +
                                                   std::string(StateName(it->state)) +
                                                   "); revoke it first to start over");
    }
    return Slot{index, true};
  }
  if (leaves_.size() >= kMaxLeaves) {
    return Status(ErrorCode::kResourceExhausted,
                  "the registry holds the maximum of " + std::to_string(kMaxLeaves) + " leaves");
  }
  return Slot{index, false};
}

Status LeafRegistry::SaveLocked() const {
  const std::string text = SerializeLeafRegistry(leaves_);
  return WriteFileAtomic(path_, AsBytes(text), kFileMode, WriteMode::kReplace);
}

Status LeafRegistry::StoreLocked(Slot slot, LeafRecord record) {
  if (slot.replace) {
    LeafRecord old = std::exchange(leaves_[slot.index], std::move(record));
    Status st = SaveLocked();
    if (!st.ok()) leaves_[slot.index] = std::move(old);
    return st;
  }
  leaves_.insert(leaves_.begin() + static_cast<std::ptrdiff_t>(slot.index), std::move(record));
  Status st = SaveLocked();
  if (!st.ok()) leaves_.erase(leaves_.begin() + static_cast<std::ptrdiff_t>(slot.index));
  return st;
}

Result<std::string> LeafRegistry::AddEnrollment(std::string_view name, int64_t ttl_ms,
                                                int64_t now_ms) {
  if (ttl_ms < kMinTokenTtlMs || ttl_ms > kMaxTokenTtlMs) {
    return Status(ErrorCode::kInvalidArgument,
                  "token lifetime must be between 1 minute and 30 days");
  }
  if (now_ms < 0 || now_ms > std::numeric_limits<int64_t>::max() - ttl_ms) {
    return Status(ErrorCode::kInvalidArgument, "the clock is out of range");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ET_ASSIGN_OR_RETURN(Slot slot, SlotForNewLocked(name));
  SecretBytes random(kTokenBytes);
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return Status(ErrorCode::kInternal, "RAND_bytes failed");
  }
  std::string token = Base64Url(random.view());
  LeafRecord r;
  r.name = std::string(name);
  r.auth = LeafAuth::kEnrollment;
  r.state = LeafState::kPending;
  r.created_ms = now_ms;
  const auto digest = Sha256(token);
  r.token_sha256_hex = HexEncode(digest);
  r.token_expires_ms = now_ms + ttl_ms;
  ET_RETURN_IF_ERROR(StoreLocked(slot, std::move(r)));
  return token;
}

Status LeafRegistry::AddCertificate(std::string_view name, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ET_ASSIGN_OR_RETURN(Slot slot, SlotForNewLocked(name));
  LeafRecord r;
  r.name = std::string(name);
  r.auth = LeafAuth::kCertificate;
  r.state = LeafState::kActive;
  r.created_ms = std::max<int64_t>(now_ms, 0);
  return StoreLocked(slot, std::move(r));
}

Status LeafRegistry::AddPsk(std::string_view name, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ET_ASSIGN_OR_RETURN(Slot slot, SlotForNewLocked(name));
  LeafRecord r;
  r.name = std::string(name);
  r.auth = LeafAuth::kPsk;
  r.state = LeafState::kActive;
  r.created_ms = std::max<int64_t>(now_ms, 0);
  return StoreLocked(slot, std::move(r));
}

Status LeafRegistry::CheckTokenLocked(const LeafRecord* leaf, std::string_view name,
                                      std::string_view token, int64_t now_ms) const {
  if (leaf == nullptr) return Status(ErrorCode::kNotFound, "unknown leaf " + Quoted(name));
  if (leaf->token_sha256_hex.empty()) {
    return Status(ErrorCode::kPermissionDenied,
                  "leaf " + Quoted(name) + " does not enroll with a token");
  }
  auto stored = HexDecode(leaf->token_sha256_hex);
  const auto presented = Sha256(token.size() <= kMaxTokenLength ? token : std::string_view());
  if (!stored.ok() || stored->size() != presented.size() || token.size() > kMaxTokenLength ||
      CRYPTO_memcmp(stored->data(), presented.data(), presented.size()) != 0) {
    return Status(ErrorCode::kVerifyFailed, "wrong enrollment token for leaf " + Quoted(name));
  }
  if (leaf->state == LeafState::kRevoked) {
    return Status(ErrorCode::kPermissionDenied, "leaf " + Quoted(name) + " revoked");
  }
  if (leaf->token_used) {
    return Status(ErrorCode::kPermissionDenied,
                  "token already used: leaf " + Quoted(name) + " enrolled before");
  }
  if (now_ms >= leaf->token_expires_ms) {
    return Status(ErrorCode::kFailedPrecondition,
                  "token expired: the enrollment token of leaf " + Quoted(name) +
                      " is no longer valid; revoke the leaf and add it again");
  }
  return Status::Ok();
}

Status LeafRegistry::CheckToken(std::string_view name, std::string_view token,
                                int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckTokenLocked(FindLocked(name), name, token, now_ms);
}

Status LeafRegistry::ConsumeToken(std::string_view name, std::string_view token, int64_t now_ms,
                                  std::string_view cert_serial_hex) {
  const std::string serial = CanonicalSerial(cert_serial_hex);
  if (serial.empty()) {
    return Status(ErrorCode::kInvalidArgument, "certificate serial must be 1 to " +
                                                   std::to_string(kMaxCertSerialHexLength) +
                                                   " hex digits");
  }
  std::lock_guard<std::mutex> lock(mu_);
  LeafRecord* found = FindLocked(name);
  ET_RETURN_IF_ERROR(CheckTokenLocked(found, name, token, now_ms));
  LeafRecord& leaf = *found;
  const LeafRecord before = leaf;
  leaf.token_used = true;
  leaf.state = LeafState::kActive;
  leaf.auth = LeafAuth::kCertificate;
  // 0 means "never" in the file, so an enrollment at the epoch itself is recorded as 1 ms.
  leaf.enrolled_ms = std::max<int64_t>(now_ms, 1);
  leaf.cert_serial_hex = serial;
  Status st = SaveLocked();
  if (!st.ok()) leaf = before;
  return st;
}

Status LeafRegistry::Admit(std::string_view name, LeafAuth presented,
                           std::string_view cert_serial_hex) const {
  std::lock_guard<std::mutex> lock(mu_);
  const LeafRecord* leaf = FindLocked(name);
  if (leaf == nullptr) return Status(ErrorCode::kNotFound, "unknown leaf " + Quoted(name));
  auto deny = [&](const std::string& why) {
    return Status(ErrorCode::kPermissionDenied, "leaf " + Quoted(name) + " " + why);
  };
  if (leaf->state == LeafState::kRevoked) return deny("is revoked");
  switch (presented) {
    case LeafAuth::kEnrollment:
      if (leaf->state == LeafState::kPending) return Status::Ok();
      if (leaf->token_used) return deny("is already enrolled; it connects with its certificate");
      return deny("does not enroll with a token; it authenticates with " +
                  std::string(leaf->auth == LeafAuth::kPsk ? "a PSK" : "a certificate"));
    case LeafAuth::kCertificate:
      if (leaf->state == LeafState::kPending) return deny("is not enrolled yet");
      if (leaf->auth == LeafAuth::kPsk) return deny("authenticates with a PSK, not a certificate");
      if (!cert_serial_hex.empty() && !leaf->cert_serial_hex.empty() &&
          CanonicalSerial(cert_serial_hex) != leaf->cert_serial_hex) {
        return deny("presented certificate serial " + std::string(cert_serial_hex.substr(0, 80)) +
                    ", not the one issued at its enrollment (" + leaf->cert_serial_hex + ")");
      }
      return Status::Ok();
    case LeafAuth::kPsk:
      if (leaf->state == LeafState::kPending) return deny("is not enrolled yet");
      if (leaf->auth != LeafAuth::kPsk) {
        return deny("authenticates with a certificate, not a PSK");
      }
      return Status::Ok();
  }
  return deny("presented an unknown authentication");
}

Status LeafRegistry::Revoke(std::string_view name, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  LeafRecord* found = FindLocked(name);
  if (found == nullptr) return Status(ErrorCode::kNotFound, "unknown leaf " + Quoted(name));
  if (found->state == LeafState::kRevoked) return Status::Ok();
  LeafRecord& leaf = *found;
  const LeafRecord before = leaf;
  leaf.state = LeafState::kRevoked;
  leaf.revoked_ms = std::max<int64_t>(now_ms, 1);  // 0 means "not revoked" in the file
  Status st = SaveLocked();
  if (!st.ok()) leaf = before;
  return st;
}

Result<LeafRecord> LeafRegistry::Get(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const LeafRecord* leaf = FindLocked(name);
  if (leaf == nullptr) return Status(ErrorCode::kNotFound, "unknown leaf " + Quoted(name));
  return *leaf;
}

std::vector<LeafRecord> LeafRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leaves_;
}

// --- PSK ----------------------------------------------------------------------------------------

std::string LeafPskMessage(std::string_view name, int64_t created_ms) {
  std::string m = "edgetrust-leaf-psk/v1";
  m.push_back('\0');
  m.append(name);
  m.push_back('\0');
  m.append(std::to_string(created_ms));
  return m;
}

Result<SecretBytes> DeriveLeafPsk(Client& sd, std::string_view name, int64_t created_ms) {
  if (!LeafRegistry::IsValidName(name)) {
    return Status(ErrorCode::kInvalidArgument, "invalid leaf name");
  }
  const std::string message = LeafPskMessage(name, created_ms);
  auto mac = sd.Mac(kLeafPskKey, AsBytes(message));
  if (!mac.ok() && mac.status().code() == ErrorCode::kNotFound) {
    // First PSK leaf of this gateway. Another agent thread may create the key at the same time.
    auto created = sd.CreateKey(kLeafPskKey, KeyType::kHmacSha256);
    if (!created.ok() && created.status().code() != ErrorCode::kAlreadyExists) {
      return created.status();
    }
    mac = sd.Mac(kLeafPskKey, AsBytes(message));
  }
  if (!mac.ok()) return mac.status();
  if (mac->size() != kLeafPskSize) {
    SecureWipe(mac->data(), mac->size());
    return Status(ErrorCode::kInternal, "the secure domain's HMAC has an unexpected size");
  }
  SecretBytes psk{ByteView(*mac)};
  SecureWipe(mac->data(), mac->size());
  return psk;
}

}  // namespace edgetrust::agent
