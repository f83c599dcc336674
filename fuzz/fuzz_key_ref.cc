// Fuzz target: the two ways a secure-domain key is named to OpenSSL (provider/key_uri.h), the
// "edgetrust:NAME?socket=PATH" URI and the EDGETRUST KEY PEM block. Both come from files and
// command lines of other programs (mosquitto's keyfile, openssl -key), so they are untrusted.
// The first input byte picks the parser; whatever parses must format back to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "provider/key_uri.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace p = edgetrust::provider;
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto ref = (data[0] & 1) ? p::ParseKeyPem(text) : p::ParseKeyUri(text);
  if (!ref.ok()) {
    ET_FUZZ_CHECK(!ref.status().message().empty());
    return 0;
  }
  ET_FUZZ_CHECK(!ref->name.empty());
  ET_FUZZ_CHECK(ref->socket.empty() || ref->socket[0] == '/');
  auto again = p::ParseKeyUri(p::FormatKeyUri(*ref));
  ET_FUZZ_CHECK(again.ok() && again->name == ref->name && again->socket == ref->socket);
  auto pem = p::ParseKeyPem(p::FormatKeyPem(*ref));
  ET_FUZZ_CHECK(pem.ok() && pem->name == ref->name && pem->socket == ref->socket);
  return 0;
}
