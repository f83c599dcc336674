#include "agent/control_protocol.h"

#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "attest/json_util.h"
#include "common/fd_io.h"
#include "common/hex.h"

namespace edgetrust::agent {
namespace {

using nlohmann::json;

constexpr int64_t kMinTtlSeconds = kMinTokenTtlMs / 1000;
constexpr int64_t kMaxTtlSeconds = kMaxTokenTtlMs / 1000;
constexpr std::array<ControlOp, 7> kOps = {
    ControlOp::kStatus, ControlOp::kLeafAdd, ControlOp::kLeafList, ControlOp::kLeafRevoke,
    ControlOp::kDeploy, ControlOp::kModules, ControlOp::kEvents};

Status Invalid(const std::string& why) {
  return Status(ErrorCode::kInvalidArgument, "bad request: " + why);
}

// A caller's text quoted in an error message, cut short: the message goes back on the wire and
// into logs.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "\"" + std::string(text.substr(0, kMax)) + (text.size() > kMax ? "..." : "");
  return out + "\"";
}

// The fields each op takes besides "op" (all required unless listed in the optional ones).
struct OpFields {
  std::vector<std::string_view> required;
  std::vector<std::string_view> optional;
};

OpFields FieldsOf(ControlOp op) {
  switch (op) {
    case ControlOp::kLeafAdd:
      return {{"name", "auth"}, {"ttl_s"}};
    case ControlOp::kLeafRevoke:
      return {{"name"}, {}};
    case ControlOp::kDeploy:
      return {{"manifest", "signature"}, {"archive_dir"}};
    case ControlOp::kEvents:
      return {{}, {"limit", "module"}};
    case ControlOp::kStatus:
    case ControlOp::kLeafList:
    case ControlOp::kModules:
      break;
  }
  return {};
}

Result<Bytes> Base64Field(const json& request, const char* key, size_t max_decoded) {
  const json& v = request.at(key);
  if (!v.is_string()) {
    return Invalid(std::string("\"") + key + "\" is " + attest::JsonTypeName(v) +
                   ", not a base64 string");
  }
  const auto& text = v.get_ref<const std::string&>();
  if (text.empty() || text.size() % 4 != 0 || text.size() / 4 * 3 > max_decoded + 2) {
    return Invalid(std::string("\"") + key + "\" must be base64 of 1 to " +
                   std::to_string(max_decoded) + " bytes");
  }
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return Invalid(std::string("\"") + key + "\" is not valid base64");
  // EVP_DecodeBlock counts padding as zero bytes.
  size_t len = static_cast<size_t>(n);
  if (text.size() >= 1 && text[text.size() - 1] == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  if (out.size() > max_decoded) {
    return Invalid(std::string("\"") + key + "\" is larger than " + std::to_string(max_decoded) +
                   " bytes");
  }
  return out;
}

std::string Base64(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

Result<std::string> NameField(const json& request) {
  const json& v = request.at("name");
  if (!v.is_string()) return Invalid("\"name\" is " + attest::JsonTypeName(v) + ", not a string");
  const auto& name = v.get_ref<const std::string&>();
  if (!LeafRegistry::IsValidName(name)) {
    return Invalid("invalid leaf name " + Excerpt(name) +
                   ": 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
  }
  return name;
}

}  // namespace

std::string ResolveAgentSocketPath(std::string_view flag) {
  if (!flag.empty()) return std::string(flag);
  const char* env = std::getenv(std::string(kAgentSocketEnv).c_str());
  if (env != nullptr && *env != '\0') return env;
  return std::string(kDefaultAgentSocketPath);
}

std::string_view ControlOpName(ControlOp op) {
  switch (op) {
    case ControlOp::kStatus:
      return "status";
    case ControlOp::kLeafAdd:
      return "leaf-add";
    case ControlOp::kLeafList:
      return "leaf-list";
    case ControlOp::kLeafRevoke:
      return "leaf-revoke";
    case ControlOp::kDeploy:
      return "deploy";
    case ControlOp::kModules:
      return "modules";
    case ControlOp::kEvents:
      return "events";
  }
  return "unknown";
}

Result<json> ParseControlLine(std::string_view line, size_t max_size) {
  if (line.size() > max_size) {
    return Status(ErrorCode::kTooLarge, "line of " + std::to_string(line.size()) +
                                            " bytes, more than the limit of " +
                                            std::to_string(max_size));
  }
  attest::JsonLimits limits;
  limits.max_bytes = max_size;
  // Every JSON value takes at least two bytes of text ("0,"), so this bounds nothing a genuine
  // message needs while keeping the parser's allocations proportional to the line.
  limits.max_values = max_size / 2 + 16;
  limits.max_depth = 16;
  auto doc = attest::ParseStrictJson(line, "control message", limits);
  if (!doc.ok()) return Status(ErrorCode::kMalformed, doc.status().message());
  return doc;
}

Result<ControlRequest> ParseControlRequest(const json& request) {
  if (!request.is_object()) {
    return Invalid("a request is a JSON object, not " + attest::JsonTypeName(request));
  }
  auto op_it = request.find("op");
  if (op_it == request.end() || !op_it->is_string()) {
    return Invalid("a request needs \"op\", a string");
  }
  const auto& op_name = op_it->get_ref<const std::string&>();
  auto op = std::find_if(kOps.begin(), kOps.end(),
                         [&](ControlOp o) { return ControlOpName(o) == op_name; });
  if (op == kOps.end()) {
    return Invalid("unknown op " + Excerpt(op_name) +
                   " (expected status, leaf-add, leaf-list, leaf-revoke, deploy, modules or "
                   "events)");
  }
  ControlRequest out;
  out.op = *op;
  const OpFields fields = FieldsOf(out.op);
  for (const auto& [key, value] : request.items()) {
    if (key == "op") continue;
    const bool known =
        std::find(fields.required.begin(), fields.required.end(), key) != fields.required.end() ||
        std::find(fields.optional.begin(), fields.optional.end(), key) != fields.optional.end();
    if (!known) {
      return Invalid("unknown field " + Excerpt(key) + " for op " + std::string(op_name));
    }
  }
  for (std::string_view key : fields.required) {
    if (!request.contains(std::string(key))) {
      return Invalid("op " + op_name + " needs \"" + std::string(key) + "\"");
    }
  }
  if (request.contains("name")) {
    ET_ASSIGN_OR_RETURN(out.name, NameField(request));
  }
  if (request.contains("auth")) {
    const json& v = request.at("auth");
    if (!v.is_string()) return Invalid("\"auth\" is " + attest::JsonTypeName(v));
    auto auth = LeafRegistry::ParseAuth(v.get_ref<const std::string&>());
    if (!auth.ok()) {
      return Invalid("\"auth\" must be enrollment, psk or certificate, not " +
                     Excerpt(v.get_ref<const std::string&>()));
    }
    out.auth = *auth;
  }
  if (request.contains("ttl_s")) {
    const json& v = request.at("ttl_s");
    if (out.auth != LeafAuth::kEnrollment) {
      return Invalid("\"ttl_s\" applies to enrollment tokens only");
    }
    if (!v.is_number_integer()) {
      return Invalid("\"ttl_s\" is " + attest::JsonTypeName(v) + ", not an integer");
    }
    const bool in_range =
        v.is_number_unsigned()
            ? v.get<uint64_t>() <= static_cast<uint64_t>(kMaxTtlSeconds) &&
                  v.get<uint64_t>() >= static_cast<uint64_t>(kMinTtlSeconds)
            : v.get<int64_t>() >= kMinTtlSeconds && v.get<int64_t>() <= kMaxTtlSeconds;
    if (!in_range) {
      return Invalid("\"ttl_s\" must be between " + std::to_string(kMinTtlSeconds) +
                     " (1 minute) and " + std::to_string(kMaxTtlSeconds) + " (30 days)");
    }
    out.ttl_s = v.get<int64_t>();
  }
  if (out.op == ControlOp::kDeploy) {
    ET_ASSIGN_OR_RETURN(out.manifest, Base64Field(request, "manifest", kMaxDeployManifestBytes));
    ET_ASSIGN_OR_RETURN(out.signature, Base64Field(request, "signature", kMaxDeploySignatureBytes));
    if (request.contains("archive_dir")) {
      const json& v = request.at("archive_dir");
      if (!v.is_string() || v.get_ref<const std::string&>().empty() ||
          v.get_ref<const std::string&>()[0] != '/' ||
          v.get_ref<const std::string&>().size() > 4096) {
        return Invalid("\"archive_dir\" must be an absolute path");
      }
      out.archive_dir = v.get<std::string>();
    }
  }
  if (request.contains("limit")) {
    const json& v = request.at("limit");
    if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || v.get<uint64_t>() > kMaxEventsLimit) {
      return Invalid("\"limit\" must be an integer from 1 to " + std::to_string(kMaxEventsLimit));
    }
    out.limit = static_cast<uint32_t>(v.get<uint64_t>());
  }
  if (request.contains("module")) {
    const json& v = request.at("module");
    if (!v.is_string() || v.get_ref<const std::string&>().size() > 64) {
      return Invalid("\"module\" must be a module name");
    }
    out.module = v.get<std::string>();
  }
  return out;
}

json ControlRequestJson(const ControlRequest& request) {
  json out = {{"op", std::string(ControlOpName(request.op))}};
  switch (request.op) {
    case ControlOp::kLeafAdd:
      out["name"] = request.name;
      out["auth"] = std::string(LeafRegistry::AuthName(request.auth));
      if (request.auth == LeafAuth::kEnrollment) out["ttl_s"] = request.ttl_s;
      break;
    case ControlOp::kLeafRevoke:
      out["name"] = request.name;
      break;
    case ControlOp::kDeploy:
      out["manifest"] = Base64(request.manifest);
      out["signature"] = Base64(request.signature);
      if (!request.archive_dir.empty()) out["archive_dir"] = request.archive_dir;
      break;
    case ControlOp::kEvents:
      out["limit"] = request.limit;
      if (!request.module.empty()) out["module"] = request.module;
      break;
    case ControlOp::kStatus:
    case ControlOp::kLeafList:
    case ControlOp::kModules:
      break;
  }
  return out;
}

json OkResponse(json fields) {
  json out = json::object();
  if (fields.is_object()) out = std::move(fields);
  out["ok"] = true;
  return out;
}

json ErrorResponse(const Status& status) {
  const Status& st =
      status.ok() ? Status(ErrorCode::kInternal, "error response without an error") : status;
  return {{"ok", false}, {"error", st.ToString()}};
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (uint32_t c = 1; c <= static_cast<uint32_t>(ErrorCode::kFailedPrecondition); ++c) {
    const auto code = static_cast<ErrorCode>(c);
    if (ErrorCodeName(code) == name) return code;
  }
  return std::nullopt;
}

Status ResponseStatus(const json& response) {
  if (!response.is_object()) {
    return Status(ErrorCode::kMalformed, "the agent's answer is not a JSON object");
  }
  auto ok = response.find("ok");
  if (ok == response.end() || !ok->is_boolean()) {
    return Status(ErrorCode::kMalformed, "the agent's answer has no \"ok\" boolean");
  }
  if (ok->get<bool>()) return Status::Ok();
  auto error = response.find("error");
  if (error == response.end() || !error->is_string() ||
      error->get_ref<const std::string&>().empty()) {
    return Status(ErrorCode::kInternal, "the agent reported an error without saying which");
  }
  const auto& text = error->get_ref<const std::string&>();
  const size_t colon = text.find(": ");
  if (colon != std::string::npos) {
    if (auto code = ErrorCodeFromName(std::string_view(text).substr(0, colon))) {
      std::string message = text.substr(colon + 2);
      if (message.empty()) message = "(no message)";
      return Status(*code, std::move(message));
    }
  }
  if (auto code = ErrorCodeFromName(text)) return Status(*code, "(no message)");
  return Status(ErrorCode::kInternal, text);
}

std::string EncodeControlLine(const json& value) {
  std::string line = value.dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

LineResult ReadControlLine(int fd, size_t max_size,
                           std::chrono::steady_clock::time_point deadline) {
  LineResult out;
  char chunk[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.status = LineStatus::kTimeout;
      return out;
    }
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (rc < 0) {
      if (errno == EINTR) continue;
      out.status = LineStatus::kError;
      out.error = errno;
      return out;
    }
    if (rc == 0) continue;  // the loop head decides whether the deadline passed
    // Never read more than the limit allows, so a flood costs at most max_size + 1 bytes here.
    const size_t room = max_size + 1 - out.line.size();
    const ssize_t n = ::recv(fd, chunk, std::min(sizeof chunk, room), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      out.status = LineStatus::kError;
      out.error = errno;
      return out;
    }
    if (n == 0) {
      out.status = out.line.empty() ? LineStatus::kClosed : LineStatus::kTruncated;
      return out;
    }
    const std::string_view got(chunk, static_cast<size_t>(n));
    const size_t newline = got.find('\n');
    if (newline != std::string_view::npos) {
      out.line.append(got.substr(0, newline));
      if (out.line.size() > max_size) break;
      out.status = LineStatus::kOk;
      return out;
    }
    out.line.append(got);
    if (out.line.size() > max_size) break;
  }
  out.status = LineStatus::kTooLarge;
  out.line.clear();
  return out;
}

int WriteControlLine(int fd, const json& value) {
  std::string line = EncodeControlLine(value);
  iovec iov{line.data(), line.size()};
  return SendAll(fd, &iov, 1);
}

json LeafRecordJson(const LeafRecord& leaf) {
  return {{"name", leaf.name},
          {"auth", std::string(LeafRegistry::AuthName(leaf.auth))},
          {"state", std::string(LeafRegistry::StateName(leaf.state))},
          {"created_ms", leaf.created_ms},
          {"token_expires_ms", leaf.token_expires_ms},
          {"token_used", leaf.token_used},
          {"enrolled_ms", leaf.enrolled_ms},
          {"cert_serial_hex", leaf.cert_serial_hex},
          {"revoked_ms", leaf.revoked_ms}};
}

json HandleLeafRequest(LeafRegistry& registry, const ControlRequest& request, int64_t now_ms,
                       const PskDeriver& psk_for) {
  now_ms = std::max<int64_t>(now_ms, 0);
  auto leaf_response = [&](json fields) -> json {
    auto leaf = registry.Get(request.name);
    if (!leaf.ok()) return ErrorResponse(leaf.status());
    fields["leaf"] = LeafRecordJson(*leaf);
    return OkResponse(std::move(fields));
  };
  switch (request.op) {
    case ControlOp::kLeafAdd:
      switch (request.auth) {
        case LeafAuth::kEnrollment: {
          auto token = registry.AddEnrollment(request.name, request.ttl_s * 1000, now_ms);
          if (!token.ok()) return ErrorResponse(token.status());
          return leaf_response(
              {{"token", *token}, {"token_expires_ms", now_ms + request.ttl_s * 1000}});
        }
        case LeafAuth::kPsk: {
          if (!psk_for) {
            return ErrorResponse(
                Status(ErrorCode::kUnsupported, "this agent has no secure domain for PSK leaves"));
          }
          // Refuse a name in use before asking the secure domain for anything.
          if (auto existing = registry.Get(request.name);
              existing.ok() && existing->state != LeafState::kRevoked) {
            return ErrorResponse(Status(
                ErrorCode::kAlreadyExists,
                "leaf '" + request.name + "' already exists; revoke it first to start over"));
          }
          auto psk = psk_for(request.name, now_ms);
          if (!psk.ok()) return ErrorResponse(psk.status());
          Status st = registry.AddPsk(request.name, now_ms);
          if (!st.ok()) return ErrorResponse(st);
          return leaf_response({{"psk", HexEncode(psk->view())}});
        }
        case LeafAuth::kCertificate: {
          Status st = registry.AddCertificate(request.name, now_ms);
          if (!st.ok()) return ErrorResponse(st);
          return leaf_response(json::object());
        }
      }
      break;
    case ControlOp::kLeafList: {
      json leaves = json::array();
      for (const auto& leaf : registry.List()) leaves.push_back(LeafRecordJson(leaf));
      return OkResponse({{"leaves", std::move(leaves)}});
    }
    case ControlOp::kLeafRevoke: {
      Status st = registry.Revoke(request.name, now_ms);
      if (!st.ok()) return ErrorResponse(st);
      return leaf_response(json::object());
    }
    case ControlOp::kStatus:
    case ControlOp::kDeploy:
    case ControlOp::kModules:
    case ControlOp::kEvents:
      break;
  }
  return ErrorResponse(
      Status(ErrorCode::kInvalidArgument,
             "op " + std::string(ControlOpName(request.op)) + " is not a leaf operation"));
}

}  // namespace edgetrust::agent
