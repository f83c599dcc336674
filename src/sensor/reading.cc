#include "sensor/reading.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

namespace edgetrust::sensor {

TemperatureModel::TemperatureModel(uint64_t seed) : rng_(seed) {
  std::uniform_real_distribution<double> start(19.0, 24.0);
  set_point_ = start(rng_);
  value_ = set_point_;
}

double TemperatureModel::Next() {
  std::normal_distribution<double> wander(0.0, 0.02);
  std::normal_distribution<double> step(0.0, 0.05);
  std::normal_distribution<double> noise(0.0, 0.03);
  set_point_ = std::clamp(set_point_ + wander(rng_), 18.0, 26.0);
  value_ += 0.1 * (set_point_ - value_) + step(rng_);
  return std::round((value_ + noise(rng_)) * 100.0) / 100.0;
}

std::string ReadingPayload(std::string_view sensor, uint64_t n, double temp_c, int64_t ts_ms) {
  nlohmann::ordered_json j;
  j["sensor"] = std::string(sensor);
  j["n"] = n;
  j["temp_c"] = temp_c;
  j["ts_ms"] = ts_ms;
  return j.dump();
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace edgetrust::sensor
