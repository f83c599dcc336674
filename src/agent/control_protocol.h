// The agent's control protocol (docs/leaves.md, "Control socket"): what the CLI and the agent say
// to each other over the agent's Unix socket, in one place for both ends.
//
// One request and one response per connection, each a single line of JSON (UTF-8, '\n'
// terminated, at most kMaxRequestLineSize bytes for a request). Requests:
//   {"op":"status"}
//   {"op":"leaf-add","name":N,"auth":"enrollment"|"psk"|"certificate"[,"ttl_s":S]}
//   {"op":"leaf-list"}
//   {"op":"leaf-revoke","name":N}
//   {"op":"deploy","manifest":B64,"signature":B64[,"archive_dir":PATH]}
//   {"op":"modules"}
//   {"op":"events"[,"limit":N][,"module":M]}
// Responses are objects: {"ok":true, ...} or {"ok":false,"error":"code-name: message"}, with the
// code names of ErrorCodeName.
//
// Thread safety: free functions without shared state.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent/leaf_registry.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::agent {

inline constexpr std::string_view kDefaultAgentSocketPath = "/run/edgetrust/agent.sock";
inline constexpr std::string_view kAgentSocketEnv = "EDGETRUST_AGENT_SOCKET";
// A request line without its '\n': a deploy request carries a manifest of up to 1 MiB and its
// signature, base64-encoded.
inline constexpr size_t kMaxRequestLineSize = size_t{2} * 1024 * 1024;
inline constexpr size_t kMaxEventsLimit = 1000;
inline constexpr size_t kMaxDeployManifestBytes = size_t{1} << 20;    // deploy::kMaxManifestBytes
inline constexpr size_t kMaxDeploySignatureBytes = size_t{64} << 10;  // deploy::kMaxSignatureBytes
// A response line (leaf-list of a registry at kMaxLeaves fits).
inline constexpr size_t kMaxResponseLineSize = size_t{64} * 1024 * 1024;
inline constexpr int64_t kDefaultTokenTtlSeconds = int64_t{24} * 3600;

// `flag` if not empty, else $EDGETRUST_AGENT_SOCKET if set and not empty, else the default.
std::string ResolveAgentSocketPath(std::string_view flag);

enum class ControlOp { kStatus, kLeafAdd, kLeafList, kLeafRevoke, kDeploy, kModules, kEvents };
std::string_view ControlOpName(ControlOp op);  // "status", "leaf-add", ...

// A validated request.
struct ControlRequest {
  ControlOp op = ControlOp::kStatus;
  std::string name;                         // leaf-add, leaf-revoke: LeafRegistry::IsValidName
  LeafAuth auth = LeafAuth::kEnrollment;    // leaf-add
  int64_t ttl_s = kDefaultTokenTtlSeconds;  // leaf-add with enrollment: 60 .. 30 days
  Bytes manifest;                           // deploy: the manifest's exact bytes
  Bytes signature;                          // deploy: its detached CMS signature (DER)
  std::string archive_dir;                  // deploy: absolute; where module archives are
  uint32_t limit = 50;                      // events: 1 .. kMaxEventsLimit
  std::string module;                       // events: only this module's

  bool operator==(const ControlRequest&) const = default;
};

// Parses one request or response line (without the '\n'): strict JSON (no duplicate keys, bounded
// nesting and value count), at most `max_size` bytes. kTooLarge over the size, kMalformed for
// anything that is not one JSON value.
Result<nlohmann::json> ParseControlLine(std::string_view line, size_t max_size);

// Validates a request: an object whose "op" is known, with exactly the fields that op takes, of the
// right types and in range. kInvalidArgument saying what is wrong.
Result<ControlRequest> ParseControlRequest(const nlohmann::json& request);
// The request as the client sends it; ParseControlRequest gives it back unchanged.
nlohmann::json ControlRequestJson(const ControlRequest& request);

// {"ok":true} merged with the fields of `fields` (an object; anything else is ignored).
nlohmann::json OkResponse(nlohmann::json fields = nlohmann::json::object());
// {"ok":false,"error":"code-name: message"}.
nlohmann::json ErrorResponse(const Status& status);
// Ok for {"ok":true,...}; the error of {"ok":false,"error":"code: message"} as that Status (an
// unknown code name becomes kInternal with the whole text); kMalformed for anything else.
Status ResponseStatus(const nlohmann::json& response);
// The code whose ErrorCodeName is `name`, if any.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);

// One line of the protocol: compact JSON (invalid UTF-8 replaced, never thrown) and '\n'.
std::string EncodeControlLine(const nlohmann::json& value);

// Framing on a connected stream socket, for both ends.
enum class LineStatus {
  kOk,         // `line` holds the line, without its '\n'; anything after it is dropped
  kClosed,     // the peer closed before sending anything
  kTruncated,  // the peer closed in the middle of a line
  kTimeout,    // no complete line before the deadline
  kTooLarge,   // more than max_size bytes without a '\n'
  kError,      // a socket error (`error` holds the errno)
};
struct LineResult {
  LineStatus status = LineStatus::kError;
  std::string line;
  int error = 0;
};
// Reads one '\n'-terminated line from `fd`, waiting at most until `deadline` and never holding
// more than max_size + 1 bytes of it.
LineResult ReadControlLine(int fd, size_t max_size, std::chrono::steady_clock::time_point deadline);
// Sends EncodeControlLine(value) (MSG_NOSIGNAL). 0, or the errno of the failure.
int WriteControlLine(int fd, const nlohmann::json& value);

// A leaf as the protocol shows it: {"name","auth","state","created_ms","token_expires_ms",
// "token_used","enrolled_ms","cert_serial_hex","revoked_ms"} (never the token's hash).
nlohmann::json LeafRecordJson(const LeafRecord& leaf);

// leaf-add, leaf-list and leaf-revoke against `registry`, the way the agent answers them:
//   leaf-add enrollment  -> {"ok":true,"leaf":{...},"token":T,"token_expires_ms":E}
//   leaf-add psk         -> {"ok":true,"leaf":{...},"psk":HEX}   (psk_for(name, created_ms))
//   leaf-add certificate -> {"ok":true,"leaf":{...}}
//   leaf-list            -> {"ok":true,"leaves":[{...},...]}
//   leaf-revoke          -> {"ok":true,"leaf":{...}}
// or an error response. Other ops are kInvalidArgument. The PSK is derived before the leaf is
// added, so a failing secure domain adds nothing.
using PskDeriver = std::function<Result<SecretBytes>(std::string_view name, int64_t created_ms)>;
nlohmann::json HandleLeafRequest(LeafRegistry& registry, const ControlRequest& request,
                                 int64_t now_ms, const PskDeriver& psk_for);

}  // namespace edgetrust::agent
