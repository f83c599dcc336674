#include "sensor/output.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace edgetrust::sensor {
namespace {

std::string Fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string Dump(const nlohmann::ordered_json& j) {
  // Payloads may be any bytes: invalid UTF-8 becomes U+FFFD rather than an exception.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string Printable(std::string_view bytes, size_t max) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

void Output::Line(const std::string& line) const {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void Output::Reading(std::string_view event, uint64_t n, double temp_c) const {
  if (quiet_) return;
  if (json_) {
    nlohmann::ordered_json j;
    j["event"] = std::string(event);
    j["n"] = n;
    j["temp_c"] = temp_c;
    Line(Dump(j));
    return;
  }
  Line(std::string(event) + " n=" + std::to_string(n) + " temp_c=" + Fixed2(temp_c));
}

void Output::Command(std::string_view topic, std::string_view payload) const {
  if (json_) {
    nlohmann::ordered_json j;
    j["event"] = "command";
    j["topic"] = std::string(topic);
    j["payload"] = std::string(payload);
    Line(Dump(j));
    return;
  }
  Line("command topic=" + Printable(topic) + " payload=" + Printable(payload));
}

void Output::Summary(uint64_t sent, uint64_t acked, uint64_t reconnects) const {
  if (json_) {
    nlohmann::ordered_json j;
    j["event"] = "summary";
    j["sent"] = sent;
    j["acked"] = acked;
    j["reconnects"] = reconnects;
    Line(Dump(j));
    return;
  }
  Line("sent=" + std::to_string(sent) + " acked=" + std::to_string(acked) +
       " reconnects=" + std::to_string(reconnects));
}

void Output::Notice(const std::string& text) const {
  std::fprintf(stderr, "edgetrust-sensor: %s\n", text.c_str());
  std::fflush(stderr);
}

void Output::Error(const std::string& text) const {
  std::fprintf(stderr, "edgetrust-sensor: error: %s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace edgetrust::sensor
