#include "cloud/profile.h"

#include <vector>

namespace edgetrust::cloud {
namespace {

constexpr size_t kMaxDeviceId = 128;
constexpr size_t kMaxLeafName = 256;
constexpr size_t kMaxPropertyBag = 4096;

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

std::vector<std::string_view> SplitLevels(std::string_view s) {
  std::vector<std::string_view> levels;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(s.substr(start));
      return levels;
    }
    levels.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

// Checks the wildcards of a subscription filter: '+' and '#' fill whole levels and '#' comes
// last. Returns the number of '+' levels, or -1.
int CheckFilter(std::string_view filter, bool& ends_with_hash) {
  const auto levels = SplitLevels(filter);
  int plus = 0;
  ends_with_hash = false;
  for (size_t i = 0; i < levels.size(); ++i) {
    const std::string_view l = levels[i];
    if (l == "+") {
      ++plus;
    } else if (l == "#") {
      if (i + 1 != levels.size()) return -1;
      ends_with_hash = true;
    } else if (l.find_first_of("+#") != std::string_view::npos) {
      return -1;
    }
  }
  return plus;
}

// A leaf name handed to the command handler: what the gateway could have authenticated.
Status CheckLeafName(std::string_view leaf) {
  if (leaf.empty()) return Invalid("the command names no leaf");
  if (leaf.size() > kMaxLeafName) return Invalid("the leaf name is longer than 256 bytes");
  for (const char c : leaf) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '/' || c == '+' || c == '#') {
      return Invalid("the leaf name holds a character not allowed in leaf names");
    }
  }
  return Status::Ok();
}

// "k1=v1&k2=v2" (percent-encoded): the leaf and subtopic of an IoT Hub cloud-to-device message.
Result<CommandTarget> ParsePropertyBag(std::string_view bag) {
  if (bag.size() > kMaxPropertyBag) return Invalid("the property bag is longer than 4096 bytes");
  std::optional<std::string> leaf;
  std::optional<std::string> subtopic;
  std::string key;
  std::string value;
  size_t start = 0;
  while (start <= bag.size()) {
    size_t end = bag.find('&', start);
    if (end == std::string_view::npos) end = bag.size();
    const std::string_view item = bag.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (!PercentDecode(item.substr(0, eq), key) ||
        !PercentDecode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1),
                       value)) {
      return Invalid("malformed percent-encoding in the property bag");
    }
    if (key == "leaf") {
      if (leaf) return Invalid("the property bag names the leaf twice");
      leaf = value;
    } else if (key == "subtopic") {
      if (subtopic) return Invalid("the property bag names the subtopic twice");
      subtopic = value;
    }
  }
  if (!leaf) return Invalid("the property bag has no leaf property");
  ET_RETURN_IF_ERROR(CheckLeafName(*leaf));
  return CommandTarget{std::move(*leaf), subtopic ? std::move(*subtopic) : std::string()};
}

}  // namespace

std::string_view ProfileKindName(ProfileKind kind) {
  switch (kind) {
    case ProfileKind::kGeneric:
      return "generic";
    case ProfileKind::kAzureIotHub:
      return "azure-iot-hub";
  }
  return "unknown";
}

Status ValidateDeviceId(std::string_view device_id) {
  if (device_id.empty()) return Invalid("the device id is empty");
  if (device_id.size() > kMaxDeviceId) return Invalid("the device id is longer than 128 bytes");
  for (const char c : device_id) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '/' || c == '+' || c == '#') {
      return Invalid("the device id \"" + std::string(device_id) +
                     "\" holds a character that cannot be in an MQTT client id or topic level");
    }
  }
  return Status::Ok();
}

Result<Profile> MakeProfile(std::string_view kind, std::string_view device_id,
                            std::string_view hub_host, std::string_view telemetry_topic,
                            std::string_view command_filter) {
  ET_RETURN_IF_ERROR(ValidateDeviceId(device_id));
  Profile p;
  if (kind == "generic") {
    p.kind = ProfileKind::kGeneric;
    p.client_id = std::string(device_id);
    p.telemetry_topic = std::string(kGenericTelemetryTopic);
    p.command_filter = std::string(kGenericCommandFilter);
  } else if (kind == "azure-iot-hub") {
    if (hub_host.empty()) {
      return Invalid("profile azure-iot-hub needs the hub's host name (hub_host)");
    }
    if (hub_host.find_first_of("/?&# ") != std::string_view::npos) {
      return Invalid("hub_host \"" + std::string(hub_host) + "\" is not a host name");
    }
    p.kind = ProfileKind::kAzureIotHub;
    p.client_id = std::string(device_id);
    p.username = std::string(hub_host) + "/" + std::string(device_id) +
                 "/?api-version=" + std::string(kAzureApiVersion);
    p.telemetry_topic = std::string(kAzureTelemetryTopic);
    p.command_filter = std::string(kAzureCommandFilter);
    p.percent_encode_values = true;
  } else {
    return Invalid("unknown cloud profile \"" + std::string(kind) +
                   "\" (known: generic, azure-iot-hub)");
  }
  if (!telemetry_topic.empty()) p.telemetry_topic = std::string(telemetry_topic);
  if (!command_filter.empty()) p.command_filter = std::string(command_filter);
  // Template errors surface here, at configuration time, rather than when the link starts.
  ET_RETURN_IF_ERROR(CompiledProfile::Compile(p, device_id).status());
  return p;
}

Result<CompiledProfile> CompiledProfile::Compile(const Profile& profile,
                                                 std::string_view device_id) {
  ET_RETURN_IF_ERROR(ValidateDeviceId(device_id));
  CompiledProfile c;
  c.kind_ = profile.kind;
  c.device_ = std::string(device_id);
  c.percent_encode_ = profile.percent_encode_values;
  ET_ASSIGN_OR_RETURN(c.telemetry_, TopicTemplate::Compile(profile.telemetry_topic,
                                                           "telemetry_topic", kAllPlaceholders,
                                                           /*wildcards=*/false));
  ET_ASSIGN_OR_RETURN(TopicTemplate filter,
                      TopicTemplate::Compile(profile.command_filter, "command_filter",
                                             PlaceholderBit(Placeholder::kDevice),
                                             /*wildcards=*/true));
  if (!filter.Expand(TopicValues{device_id, {}, {}, 0}, false, c.command_filter_)) {
    return Invalid("command_filter cannot be expanded");
  }
  bool hash = false;
  const int plus = CheckFilter(c.command_filter_, hash);
  if (plus < 0) {
    return Invalid("command_filter \"" + profile.command_filter +
                   "\": '+' and '#' must fill whole topic levels, '#' only the last");
  }
  if (profile.kind == ProfileKind::kGeneric && plus != 1) {
    return Invalid("command_filter \"" + profile.command_filter +
                   "\": the generic profile needs exactly one '+' level, which names the leaf");
  }
  if (profile.kind == ProfileKind::kAzureIotHub && !hash) {
    return Invalid("command_filter \"" + profile.command_filter +
                   "\": the azure-iot-hub profile reads the property bag from a final '#' level");
  }
  return c;
}

bool CompiledProfile::TelemetryTopic(const OutboundMessage& m, std::string& out) const {
  return telemetry_.Expand(TopicValues{device_, m.leaf, m.subtopic, m.seq}, percent_encode_, out);
}

Result<CommandTarget> CompiledProfile::ParseCommand(std::string_view topic) const {
  const auto filter = SplitLevels(command_filter_);
  const auto levels = SplitLevels(topic);
  std::optional<std::string_view> plus;
  std::optional<std::string_view> rest;
  size_t i = 0;
  for (; i < filter.size(); ++i) {
    if (filter[i] == "#") {
      // '#' also matches the parent level itself ("a/#" matches "a").
      if (i < levels.size()) {
        const size_t offset = static_cast<size_t>(levels[i].data() - topic.data());
        rest = topic.substr(offset);
      } else {
        rest = std::string_view();
      }
      i = levels.size();
      break;
    }
    if (i >= levels.size()) return Invalid("topic does not match " + command_filter_);
    if (filter[i] == "+") {
      if (!plus) plus = levels[i];
      continue;
    }
    if (filter[i] != levels[i]) return Invalid("topic does not match " + command_filter_);
  }
  if (i < levels.size()) return Invalid("topic does not match " + command_filter_);

  if (kind_ == ProfileKind::kAzureIotHub) return ParsePropertyBag(rest.value_or(""));
  if (!plus) return Invalid("topic does not match " + command_filter_);
  ET_RETURN_IF_ERROR(CheckLeafName(*plus));
  return CommandTarget{std::string(*plus), std::string(rest.value_or(""))};
}

}  // namespace edgetrust::cloud
