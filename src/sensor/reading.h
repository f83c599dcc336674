// The simulated temperature and the payload of one reading.
//
// TemperatureModel drifts like a room: a slow random walk pulled back towards a set point that
// itself wanders between 18 and 26 degrees Celsius, plus a little measurement noise, rounded to
// 0.01. Thread safety: one thread per model.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace edgetrust::sensor {

class TemperatureModel {
 public:
  explicit TemperatureModel(uint64_t seed);
  // The next reading, in degrees Celsius.
  double Next();

 private:
  std::mt19937_64 rng_;
  double set_point_ = 21.5;
  double value_ = 21.5;
};

// {"sensor":NAME,"n":N,"temp_c":T,"ts_ms":UNIX_MS}, in this order.
std::string ReadingPayload(std::string_view sensor, uint64_t n, double temp_c, int64_t ts_ms);

// Milliseconds since the epoch.
int64_t UnixMs();

}  // namespace edgetrust::sensor
