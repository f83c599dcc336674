#include "cli/output.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <string>

#include "cli/io.h"

namespace edgetrust::cli {

void Output::Json(const nlohmann::json& value) {
  // Replace rather than throw on invalid UTF-8: strings come from the daemon and from files.
  WriteStdout(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  WriteStdout("\n");
}

void Output::Line(std::string_view text) {
  WriteStdout(text);
  WriteStdout("\n");
}

nlohmann::json KeyJson(const KeyInfo& key) {
  return {{"name", key.name},
          {"owner", key.owner},
          {"type", key.type},
          {"created", key.created},
          {"state", key.state}};
}

std::string FormatTime(uint64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return std::to_string(seconds);
  std::array<char, 32> buf{};
  size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf.data(), n);
}

void PrintKey(Output& out, const KeyInfo& key) {
  if (out.json()) {
    out.Json(KeyJson(key));
    return;
  }
  out.Line("name:    " + key.name);
  out.Line("owner:   " + key.owner);
  out.Line("type:    " + key.type);
  out.Line("created: " + FormatTime(key.created));
  out.Line("state:   " + key.state);
}

void PrintKeyTable(Output& out, const std::vector<KeyInfo>& keys) {
  if (out.json()) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& k : keys) array.push_back(KeyJson(k));
    out.Json(array);
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "TYPE", "OWNER", "CREATED", "STATE"}};
  for (const auto& k : keys)
    rows.push_back({k.name, k.type, k.owner, FormatTime(k.created), k.state});
  PrintTable(out, rows);
}

void PrintTable(Output& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      // Pad every column but the last, which may be long ("tampered: <reason>").
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    out.Line(line);
  }
}

void PrintError(std::string_view message) {
  std::string line = "edgetrust: ";
  line += message;
  std::replace(line.begin(), line.end(), '\n', ' ');
  line += '\n';
  std::fflush(stdout);  // keep stdout and stderr in order on a shared terminal
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace edgetrust::cli
