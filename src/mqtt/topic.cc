// Strings and topics: what MQTT allows in a UTF-8 string, a topic name and a topic filter, and
// how filters match names (MQTT 5 sections 1.5.4 and 4.7).
#include <cstdint>
#include <string_view>

#include "common/utf8.h"
#include "mqtt/codec.h"

namespace edgetrust::mqtt {

bool IsValidMqttString(std::string_view s) {
  return s.size() <= 65535 && s.find('\0') == std::string_view::npos && IsValidUtf8(s);
}

bool IsValidTopicName(std::string_view topic) {
  return !topic.empty() && topic.find_first_of("+#") == std::string_view::npos &&
         IsValidMqttString(topic);
}

bool IsValidTopicFilter(std::string_view filter) {
  if (filter.empty() || !IsValidMqttString(filter)) return false;
  size_t start = 0;
  while (true) {
    const size_t end = filter.find('/', start);
    const bool last = end == std::string_view::npos;
    const std::string_view level =
        filter.substr(start, last ? std::string_view::npos : end - start);
    if (level.find('#') != std::string_view::npos && (level != "#" || !last)) return false;
    if (level.find('+') != std::string_view::npos && level != "+") return false;
    if (last) return true;
    start = end + 1;
  }
}

bool TopicMatches(std::string_view filter, std::string_view topic) {
  // [MQTT-4.7.2-1]: "$SYS/..." and the like are not matched by a leading wildcard.
  if (!topic.empty() && topic[0] == '$' && !filter.empty() &&
      (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  size_t f = 0;
  size_t t = 0;
  bool topic_done = false;
  while (true) {
    size_t f_end = filter.find('/', f);
    if (f_end == std::string_view::npos) f_end = filter.size();
    const std::string_view f_level = filter.substr(f, f_end - f);
    // "a/#" matches "a" itself as well as everything below it.
    if (f_level == "#") return true;
    if (topic_done) return false;
    size_t t_end = topic.find('/', t);
    if (t_end == std::string_view::npos) t_end = topic.size();
    const std::string_view t_level = topic.substr(t, t_end - t);
    if (f_level != "+" && f_level != t_level) return false;
    const bool filter_last = f_end == filter.size();
    const bool topic_last = t_end == topic.size();
    if (filter_last) return topic_last;
    f = f_end + 1;
    if (topic_last) {
      topic_done = true;
    } else {
      t = t_end + 1;
    }
  }
}

}  // namespace edgetrust::mqtt
