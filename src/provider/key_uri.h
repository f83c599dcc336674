// The two ways a secure-domain key is named to OpenSSL: the URI "edgetrust:NAME[?socket=PATH]"
// (openssl -key edgetrust:NAME, OSSL_STORE) and the PEM form "-----BEGIN EDGETRUST KEY-----"
// whose body is that URI in base64, for programs that only read key files. Both name a key;
// neither holds key material. Parsers of untrusted text: errors are values, never crashes.
#pragma once

#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::provider {

inline constexpr std::string_view kUriScheme = "edgetrust";
inline constexpr std::string_view kPemLabel = "EDGETRUST KEY";

struct KeyRef {
  std::string name;    // "NAME" or "PRINCIPAL/NAME"
  std::string socket;  // empty: the provider's configured socket, $EDGETRUST_SOCKET, the default
};

// Parses "edgetrust:NAME" or "edgetrust:NAME?socket=PATH" (PATH absolute, percent-escapes
// allowed). kInvalidArgument naming what is wrong.
Result<KeyRef> ParseKeyUri(std::string_view uri);
std::string FormatKeyUri(const KeyRef& ref);

// The PEM form of a reference, and its parser (the whole text must be one EDGETRUST KEY block,
// optionally surrounded by whitespace and other PEM blocks, which are ignored).
std::string FormatKeyPem(const KeyRef& ref);
Result<KeyRef> ParseKeyPem(std::string_view pem);
// The body of an EDGETRUST KEY block once base64-decoded (what the DER stage of the decoder sees).
Result<KeyRef> ParseKeyPemBody(std::string_view body);

}  // namespace edgetrust::provider
