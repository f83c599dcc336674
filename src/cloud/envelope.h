// The JSON envelope a leaf message travels in to the cloud (docs/cloud-link.md):
//
//   {"leaf":NAME,"seq":N,"subtopic":S,"received_ms":T,"gateway":DEVICE,"data":PAYLOAD}
//
// PAYLOAD is the leaf's payload spliced in verbatim when it is one valid JSON document (UTF-8,
// RFC 8259); otherwise the member is "data_b64" with the payload in standard base64. The leaf
// name is the gateway's authentication of the leaf (OutboundMessage::leaf), never anything the
// payload says. Strings are escaped per RFC 8259; bytes that are not UTF-8 in the leaf, subtopic
// or gateway name become U+FFFD, so the envelope is always valid JSON.
//
// Cost: one validating pass over the payload (no DOM), then appends into a caller-owned string
// whose capacity is reused from message to message.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "cloud/message_source.h"

namespace edgetrust::cloud {

// Replaces the contents of `out` with the envelope of `m` sent on behalf of gateway `gateway`.
void BuildEnvelope(const OutboundMessage& m, std::string_view gateway, std::string& out);

// Whether `payload` is exactly one JSON value (surrounding white space allowed).
bool IsJsonDocument(std::string_view payload);

// Appends `s` as a JSON string literal (quotes included) to `out`.
void AppendJsonString(std::string_view s, std::string& out);

// Appends the standard base64 (RFC 4648, with padding) of `data` to `out`.
void AppendBase64(std::string_view data, std::string& out);

}  // namespace edgetrust::cloud
