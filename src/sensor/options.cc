#include "sensor/options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cmath>
#include <exception>

#include "common/hex.h"

namespace edgetrust::sensor {
namespace {

constexpr char kDescription[] =
    "edgetrust-sensor: a simulated temperature sensor, the reference leaf device of an EdgeTrust "
    "gateway. It connects to the gateway's leaf hub (or any MQTT broker) over TLS, publishes "
    "readings to NAME/SUFFIX and prints the commands it receives on NAME/commands/#.";

constexpr char kFooter[] = R"(Authentication (exactly one):
  --cert FILE --key FILE        mutual TLS with a PEM certificate (chain) and PEM key
  --cert FILE --key edgetrust:KEY
                                mutual TLS with a key held by the sensor's own secure domain
                                (edgetrust-sd at --sd-socket, else $EDGETRUST_SOCKET)
  --psk HEX | --psk-file FILE   TLS-PSK; the PSK identity is NAME (a file keeps the key out
                                of the process list)
  --enroll TOKEN --state DIR    enroll once with the gateway's one-time token: a P-256 key
                                (DIR/key.pem, 0600; with --sd-key KEY, a secure-domain key
                                named KEY instead) and a CSR for CN=NAME, answered with
                                DIR/cert.pem; then mutual TLS with them. A DIR that already
                                holds cert.pem is used as it is.
  --state DIR                   mutual TLS with what an earlier enrollment left in DIR

Readings: JSON {"sensor":NAME,"n":N,"temp_c":21.37,"ts_ms":UNIX_MS}, n = 1..count, at --rate
per second. At QoS 1 every reading is kept until the gateway acknowledges it: when the
connection is lost the sensor reconnects (delay --retry-ms, doubling up to 10 s, with jitter)
and sends every unacknowledged reading again, with the same n and the DUP flag. One line per
acknowledged reading ("acked n=5 temp_c=21.40"; at QoS 0, "sent n=5 ..."), unless --quiet, and a
summary at the end ("sent=N acked=N reconnects=K"). --json prints these as JSON lines.

SIGINT/SIGTERM stop taking readings; the sensor waits (10 s at most) for what is in flight to be
acknowledged and prints the summary.

Exit status: 0 when every reading was acknowledged (at QoS 0: sent); 1 with a message when the
gateway refused the sensor (TLS, CONNACK, PUBACK) or readings stayed unacknowledged; 2 for a
usage error.)";

bool ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  std::string h;
  std::string p;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5) return false;
  unsigned long value = 0;
  for (char c : p) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  *host = h;
  *port = static_cast<uint16_t>(value);
  return true;
}

EarlyExit Usage(const std::string& message) {
  return {2, "edgetrust-sensor: " + message + "\nRun 'edgetrust-sensor --help' for the options."};
}

}  // namespace

bool IsValidSensorName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::variant<SensorOptions, EarlyExit> ParseOptions(int argc, char** argv) {
  CLI::App app(kDescription, "edgetrust-sensor");
  app.footer(kFooter);
  app.get_formatter()->column_width(34);
  SensorOptions o;
  std::string gateway;
  std::string mqtt_version = "3.1.1";
  int qos = 1;
  int window = 32;
  app.add_option("--gateway", gateway, "HOST:PORT of the gateway's leaf hub or broker")->required();
  app.add_option("--ca", o.ca_file,
                 "PEM CA certificates that verify the gateway (optional with a PSK)");
  app.add_option("--name", o.name,
                 "The sensor's name: client id, PSK identity, certificate CN and topic prefix "
                 "(1-64 of A-Z a-z 0-9 . _ -)")
      ->required();
  app.add_option("--server-name", o.server_name,
                 "Name the gateway's certificate must carry (default: HOST)");
  auto* cert = app.add_option("--cert", o.cert_file, "Client certificate (PEM, chain after it)");
  auto* key = app.add_option("--key", o.key, "Its key: a PEM file, or edgetrust:KEY");
  app.add_option("--sd-socket", o.sd_socket,
                 "The sensor's secure domain (default: $EDGETRUST_SOCKET, else "
                 "/run/edgetrust/sd.sock)");
  auto* psk = app.add_option("--psk", o.psk_hex, "TLS-PSK key in hex");
  auto* psk_file = app.add_option("--psk-file", o.psk_file, "File holding the PSK in hex");
  auto* enroll = app.add_option("--enroll", o.enroll_token, "One-time enrollment token");
  auto* state =
      app.add_option("--state", o.state_dir, "Folder of the enrolled key and certificate");
  auto* sd_key = app.add_option("--sd-key", o.sd_key,
                                "With --enroll: create the key in the secure domain as KEY");
  app.add_option("--rate", o.rate_hz, "Readings per second (default 1)");
  app.add_option("--count", o.count, "Readings to take (default 10; 0: until stopped)");
  app.add_option("--qos", qos, "0 or 1 (default 1)")->check(CLI::IsMember({0, 1}));
  app.add_option("--mqtt", mqtt_version, "MQTT version: 3.1.1 or 5 (default 3.1.1)")
      ->check(CLI::IsMember({"3.1.1", "5"}));
  app.add_option("--topic", o.topic_suffix,
                 "Topic suffix; readings go to NAME/SUFFIX (default temperature)");
  app.add_option("--window", window, "QoS 1 readings in flight at most (default 32)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--retry-ms", o.retry_ms,
                 "First reconnect delay in ms; doubles up to 10 s, with jitter (default 500)")
      ->check(CLI::Range(1, 10000));
  app.add_flag("--quiet", o.quiet, "No line per reading");
  app.add_flag("--json", o.json, "Print JSON lines");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return EarlyExit{0, app.help()};
  } catch (const CLI::ParseError& e) {
    return Usage(e.what());
  } catch (const std::exception& e) {
    return Usage(e.what());
  }

  if (!ParseHostPort(gateway, &o.host, &o.port)) {
    return Usage("--gateway wants HOST:PORT (or [IPv6]:PORT), not \"" + gateway + "\"");
  }
  if (!IsValidSensorName(o.name)) {
    return Usage("--name wants 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
  }
  if (!mqtt::IsValidTopicName(o.topic_suffix) || o.topic_suffix.front() == '/' ||
      o.topic_suffix.back() == '/') {
    return Usage("--topic wants a topic without wildcards, not starting or ending with /");
  }
  if (!(o.rate_hz > 0) || !std::isfinite(o.rate_hz) || o.rate_hz > 100000) {
    return Usage("--rate wants a number of readings per second above 0 (at most 100000)");
  }
  o.qos = static_cast<uint8_t>(qos);
  o.window = static_cast<uint16_t>(window);
  o.version = mqtt_version == "5" ? mqtt::Version::k5 : mqtt::Version::k311;

  const bool has_cert = cert->count() > 0;
  const bool has_key = key->count() > 0;
  const bool has_psk = psk->count() > 0 || psk_file->count() > 0;
  const bool has_enroll = enroll->count() > 0;
  const bool has_state = state->count() > 0;
  const int modes = (has_cert ? 1 : 0) + (has_psk ? 1 : 0) + (has_enroll ? 1 : 0) +
                    (has_state && !has_enroll ? 1 : 0);
  if (modes != 1) {
    return Usage(
        "choose exactly one way to authenticate: --cert/--key, --psk, --enroll with --state, "
        "or --state");
  }
  if (has_key && !has_cert) return Usage("--key goes with --cert");
  if (has_cert && !has_key) return Usage("--cert needs --key");
  if (sd_key->count() > 0 && !has_enroll) return Usage("--sd-key goes with --enroll");
  if (psk->count() > 0 && psk_file->count() > 0) return Usage("give --psk or --psk-file, not both");
  if (has_enroll && !has_state) return Usage("--enroll needs --state DIR");
  if (has_enroll && o.enroll_token.empty()) return Usage("--enroll needs the token");
  if (psk->count() > 0) {
    auto bytes = HexDecode(o.psk_hex);
    if (!bytes.ok() || bytes->empty() || bytes->size() > 256) {
      return Usage("--psk wants 1 to 256 bytes in hex");
    }
  }
  if (!has_psk && o.ca_file.empty()) return Usage("--ca is required (except with a PSK)");
  if (has_cert) o.auth = AuthMode::kCertificate;
  if (has_psk) o.auth = AuthMode::kPsk;
  if (has_enroll) o.auth = AuthMode::kEnroll;
  if (has_state && !has_enroll) o.auth = AuthMode::kState;
  return o;
}

}  // namespace edgetrust::sensor
