// Enrollment with the gateway's leaf hub (docs/mqtt.md, "Enrollment"): once, with a one-time
// token, the sensor gets a certificate for a key of its own.
//
//   1. A P-256 key: DIR/key.pem (PEM, 0600), or with --sd-key KEY a key KEY created in the
//      sensor's secure domain (DIR/key.pem then is the EDGETRUST KEY file naming it).
//   2. A CSR for it with subject CN=NAME.
//   3. TLS to the gateway without a client certificate (the gateway verified with --ca);
//      CONNECT with client id NAME, user name NAME, password TOKEN; SUBSCRIBE $enroll/result
//      (QoS 1); PUBLISH the CSR (PEM) to $enroll/csr (QoS 1).
//   4. The gateway answers on $enroll/result with the certificate and its chain (PEM), written
//      to DIR/cert.pem (0644) once it is checked to be for our key and NAME, or with
//      "error: <reason>". Then DISCONNECT.
// A DIR that already holds cert.pem is left as it is (enrolled earlier).
//
// Errors: kPermissionDenied when the gateway refuses (CONNACK: a bad, used or expired token;
// an "error: " answer); kInvalidArgument for an answer that is not a certificate for us;
// kUnavailable only when `stop` was set while the gateway could not be reached (unreachable
// gateways are retried with backoff until then). Thread safety: one thread.
#pragma once

#include <csignal>

#include "edgetrust/status.h"
#include "sensor/options.h"
#include "sensor/output.h"

namespace edgetrust::sensor {

inline constexpr char kEnrollCsrTopic[] = "$enroll/csr";
inline constexpr char kEnrollResultTopic[] = "$enroll/result";

Status Enroll(const SensorOptions& options, const Output& out,
              const volatile std::sig_atomic_t* stop);

}  // namespace edgetrust::sensor
