#include "cli/agent_answer.h"

#include <limits>

#include "cli/output.h"

namespace edgetrust::cli {

using nlohmann::json;

const json& Get(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string Printable(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}

std::string Str(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return s.empty() ? "-" : Printable(s);
  }
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return Printable(v.dump());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return "-";
}

std::optional<int64_t> Int(const json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(u);
    }
    return std::nullopt;
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

std::string TimeMs(const json& v) {
  auto ms = Int(v);
  if (!ms || *ms <= 0) return "-";
  return FormatTime(static_cast<uint64_t>(*ms / 1000));
}

}  // namespace edgetrust::cli
