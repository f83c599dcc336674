// The CLI's side of the agent's control socket (control_server.h, control_protocol.h): one
// request, one answer, one connection.
//
// Thread safety: a free function without shared state.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::agent {

// Sends `request` to the agent at `socket_path` ("" = $EDGETRUST_AGENT_SOCKET, else
// /run/edgetrust/agent.sock) and returns its {"ok":true,...} answer. Errors:
//   kUnavailable        the agent does not run ("edgetrust-agent is not running (socket PATH)"),
//                       went away, or did not answer within timeout_ms;
//   kPermissionDenied   the socket is not open to this user;
//   kTooLarge           the request line is over kMaxRequestLineSize;
//   kMalformed          the answer is not a protocol answer;
//   the agent's error   an {"ok":false,"error":"code: message"} answer becomes that Status.
Result<nlohmann::json> CallAgent(std::string_view socket_path, const nlohmann::json& request,
                                 int timeout_ms = 10000);

}  // namespace edgetrust::agent
