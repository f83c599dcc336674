// The command line of edgetrust-sensor, parsed and checked (docs/mqtt.md, "edgetrust-sensor").
//
// ParseOptions returns the options, or what main() should do instead: print help (exit 0) or a
// usage error (exit 2). Every rule is checked here, so the rest of the program gets options that
// make sense together: exactly one way to authenticate, a valid name, values in range.
// Thread safety: plain values and a free function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "mqtt/codec.h"

namespace edgetrust::sensor {

enum class AuthMode {
  kCertificate,  // --cert FILE --key FILE|edgetrust:KEY
  kPsk,          // --psk HEX (or --psk-file FILE)
  kEnroll,       // --enroll TOKEN --state DIR [--sd-key KEY]
  kState,        // --state DIR, after an enrollment
};

struct SensorOptions {
  std::string host;
  uint16_t port = 0;
  std::string ca_file;
  std::string name;
  std::string server_name;  // empty: host
  AuthMode auth = AuthMode::kCertificate;
  std::string cert_file;
  std::string key;        // a PEM file, or "edgetrust:KEY"
  std::string sd_socket;  // the sensor's secure domain; empty: $EDGETRUST_SOCKET, the default
  std::string psk_hex;
  std::string psk_file;
  std::string enroll_token;
  std::string state_dir;
  std::string sd_key;  // enrollment: create the key in the secure domain under this name
  double rate_hz = 1.0;
  uint64_t count = 10;  // 0: forever
  uint8_t qos = 1;
  mqtt::Version version = mqtt::Version::k311;
  std::string topic_suffix = "temperature";
  uint16_t window = 32;
  int retry_ms = 500;
  bool quiet = false;
  bool json = false;

  std::string topic() const { return name + "/" + topic_suffix; }
  std::string commands_filter() const { return name + "/commands/#"; }
};

// What to do instead of running.
struct EarlyExit {
  int code = 0;         // 0 after --help, 2 for a usage error
  std::string message;  // for stdout (help) or stderr (error)
};

std::variant<SensorOptions, EarlyExit> ParseOptions(int argc, char** argv);

// 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit: a leaf name of the gateway,
// usable as an MQTT client identifier and topic level.
bool IsValidSensorName(std::string_view name);

}  // namespace edgetrust::sensor
