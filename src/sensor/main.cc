// edgetrust-sensor: the reference leaf device (docs/mqtt.md). This file only wires the parts
// together: options, enrollment, credentials, the publishing loop, signals and exit codes.
#include <csignal>
#include <cstdio>
#include <variant>

#include "sensor/credentials.h"
#include "sensor/enroll.h"
#include "sensor/options.h"
#include "sensor/output.h"
#include "sensor/publisher.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int /*signal*/) { g_stop = 1; }

void InstallSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed stdout must not kill the sensor (its TLS writes never raise SIGPIPE anyway).
  std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace edgetrust::sensor;
  auto parsed = ParseOptions(argc, argv);
  if (auto* early = std::get_if<EarlyExit>(&parsed)) {
    std::fprintf(early->code == 0 ? stdout : stderr, "%s\n", early->message.c_str());
    return early->code;
  }
  const SensorOptions& options = std::get<SensorOptions>(parsed);
  const Output out(options.json, options.quiet);
  InstallSignals();

  if (options.auth == AuthMode::kEnroll) {
    edgetrust::Status enrolled = Enroll(options, out, &g_stop);
    if (!enrolled.ok()) {
      out.Error(enrolled.message());
      return 1;
    }
  }
  auto credentials = LoadCredentials(options);
  if (!credentials.ok()) {
    out.Error(credentials.status().message());
    return 1;
  }
  Publisher publisher(options, out, &g_stop);
  return publisher.Run(*credentials);
}
