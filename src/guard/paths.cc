#include "guard/paths.h"

#include <string_view>

#include "guard/image_index.h"

namespace edgetrust::guard {

Result<std::string> NormalisePath(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Status(ErrorCode::kInvalidArgument, "not an absolute path: '" + path + "'");
  }
  if (path.find('\0') != std::string::npos) {
    return Status(ErrorCode::kInvalidArgument, "path contains a NUL byte");
  }
  std::vector<std::string_view> parts;
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();  // never above "/"
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return std::string("/");
  std::string out;
  out.reserve(path.size());
  for (std::string_view p : parts) {
    out += '/';
    out += p;
  }
  return out;
}

std::string StripMergedPrefix(const std::string& reported, const std::string& merged_dir) {
  if (merged_dir.empty() || merged_dir == "/") return reported;
  if (reported.size() < merged_dir.size() || reported.compare(0, merged_dir.size(), merged_dir))
    return reported;
  if (reported.size() == merged_dir.size()) return "/";
  if (reported[merged_dir.size()] != '/') return reported;  // "/x/merged2" is not under "/x/merged"
  return reported.substr(merged_dir.size());
}

bool IsUnderPrefix(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return true;
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool IsUnderAny(const std::string& path, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes) {
    if (IsUnderPrefix(path, p)) return true;
  }
  return false;
}

}  // namespace edgetrust::guard
