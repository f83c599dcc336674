// What edgetrust-sensor prints: result lines on stdout (text or JSON lines), notices and errors
// on stderr ("edgetrust-sensor: ..."). Every line is flushed at once, so a reader of a pipe or a
// log file sees it when it happens. Thread safety: one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace edgetrust::sensor {

class Output {
 public:
  Output(bool json, bool quiet) : json_(json), quiet_(quiet) {}

  // A QoS 1 reading the gateway acknowledged ("acked n=5 temp_c=21.40"), or a QoS 0 reading
  // written to the connection ("sent n=5 ..."). Not with --quiet.
  void Reading(std::string_view event, uint64_t n, double temp_c) const;
  // A message received on NAME/commands/#.
  void Command(std::string_view topic, std::string_view payload) const;
  void Summary(uint64_t sent, uint64_t acked, uint64_t reconnects) const;
  // Progress worth knowing (connected, connection lost, enrolled), on stderr.
  void Notice(const std::string& text) const;
  void Error(const std::string& text) const;

 private:
  void Line(const std::string& line) const;
  bool json_;
  bool quiet_;
};

// Bytes as printable text: control and non-ASCII bytes as \xNN, backslash as "\\".
std::string Printable(std::string_view bytes, size_t max = 1024);

}  // namespace edgetrust::sensor
