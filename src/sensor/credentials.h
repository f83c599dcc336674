// How the sensor proves who it is over TLS, built from its options: a client certificate with a
// PEM key or a key in its own secure domain, a PSK, or what an enrollment left in the state
// folder (DIR/cert.pem, and DIR/key.pem: a PEM key, or an EDGETRUST KEY file naming a
// secure-domain key). Every context verifies the gateway with --ca (mqtt/client_tls.h).
//
// Errors: kNotFound / kInvalidArgument naming the file or key that is missing or unusable,
// kUnavailable when the secure domain cannot be reached. Thread safety: free functions.
#pragma once

#include <string>

#include "common/openssl_ptr.h"
#include "edgetrust/status.h"
#include "identity/x509_ptr.h"
#include "sensor/options.h"

namespace edgetrust::sensor {

struct Credentials {
  SslCtxPtr ctx;
  std::string description;  // for the "connected" notice: "mutual TLS", "TLS-PSK", ...
};

// For --cert/--key, --psk and --state (the last after an enrollment).
Result<Credentials> LoadCredentials(const SensorOptions& options);

// A context that verifies the gateway and presents nothing: for enrolling.
Result<SslCtxPtr> ServerOnlyContext(const SensorOptions& options);

// A secure-domain key named by "edgetrust:KEY[?socket=PATH]" (the socket defaults to
// `sd_socket`), usable as a TLS or CSR key.
Result<EvpPkeyPtr> LoadSdKeyUri(const std::string& uri, const std::string& sd_socket);

std::string StateCertPath(const std::string& dir);
std::string StateKeyPath(const std::string& dir);

}  // namespace edgetrust::sensor
