// The manifest's value rules (manifest_rules.h).
#include "deploy/manifest_rules.h"

#include <algorithm>

namespace edgetrust::deploy {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool IsSha256Tail(std::string_view s) {
  constexpr std::string_view kPrefix = "sha256:";
  if (s.size() != kPrefix.size() + 64 || s.substr(0, kPrefix.size()) != kPrefix) return false;
  return std::all_of(s.begin() + kPrefix.size(), s.end(), IsLowerHex);
}

// Every "/"-separated component is non-empty and neither "." nor "..".
bool CleanComponents(std::string_view s) {
  size_t start = 0;
  while (true) {
    const size_t end = s.find('/', start);
    const std::string_view part =
        s.substr(start, end == std::string_view::npos ? s.npos : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !IsLowerAlnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool IsImageId(std::string_view id) { return IsSha256Tail(id); }

bool IsPinnedReference(std::string_view ref) {
  const size_t at = ref.find('@');
  if (at == 0 || at == std::string_view::npos || at > 255) return false;
  const std::string_view name = ref.substr(0, at);
  const bool name_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return IsAlnum(c) || c == '.' || c == '_' || c == '/' || c == ':' || c == '-';
  });
  return name_ok && IsAlnum(name[0]) && IsSha256Tail(ref.substr(at + 1));
}

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path[0] == '/' || HasControl(path)) return false;
  return CleanComponents(path);
}

bool IsNormalisedAbsolutePath(std::string_view path) {
  if (path.size() < 2 || path.size() > 4096 || path[0] != '/' || HasControl(path)) return false;
  return CleanComponents(path.substr(1));
}

bool PathsOverlap(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  return b.substr(0, a.size()) == a && (b.size() == a.size() || b[a.size()] == '/');
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || name.size() > 256 || IsDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '_'; });
}

bool IsVolumeName(std::string_view name) {
  if (name.empty() || name.size() > 255 || !IsAlnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool IsCapabilityName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '_'; });
}

bool IsUserSpec(std::string_view user) {
  if (user.empty() || user.size() > 256) return false;
  auto part_ok = [](std::string_view p) {
    return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) {
      return IsAlnum(c) || c == '_' || c == '.' || c == '-';
    });
  };
  const size_t colon = user.find(':');
  if (colon == std::string_view::npos) return part_ok(user);
  return part_ok(user.substr(0, colon)) && part_ok(user.substr(colon + 1));
}

bool IsRfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if (t.size() < kShape.size() + 1 || t.size() > 64) return false;
  for (size_t i = 0; i < kShape.size(); ++i) {
    const char want = kShape[i];
    if (want == 'd' ? !IsDigit(t[i]) : (want == 'T' ? (t[i] != 'T' && t[i] != 't') : t[i] != want))
      return false;
  }
  size_t i = kShape.size();
  if (t[i] == '.') {
    ++i;
    const size_t digits = i;
    while (i < t.size() && IsDigit(t[i])) ++i;
    if (i == digits) return false;
  }
  const std::string_view zone = t.substr(i);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && IsDigit(zone[1]) &&
         IsDigit(zone[2]) && zone[3] == ':' && IsDigit(zone[4]) && IsDigit(zone[5]);
}

}  // namespace edgetrust::deploy
