// How the CLI prints: human-readable text by default, exactly one JSON value per command with
// --json (so scripts can parse stdout without knowing the command), and errors as a single
// "edgetrust: <text>" line on stderr.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/client.h"

namespace edgetrust::cli {

class Output {
 public:
  explicit Output(bool json) : json_(json) {}
  bool json() const { return json_; }

  // Prints `value` on one line of stdout.
  void Json(const nlohmann::json& value);
  // Prints a line of text on stdout.
  void Line(std::string_view text);

 private:
  bool json_;
};

// {"name","owner","type","created","state"}, created in seconds since the epoch.
nlohmann::json KeyJson(const KeyInfo& key);
// One key as JSON, or as "field: value" lines.
void PrintKey(Output& out, const KeyInfo& key);
// Keys as a JSON array, or as a table with a header line.
void PrintKeyTable(Output& out, const std::vector<KeyInfo>& keys);

// Rows as aligned columns (two spaces apart; the last column is not padded, it may be long).
void PrintTable(Output& out, const std::vector<std::vector<std::string>>& rows);

// "2024-05-01T12:00:00Z".
std::string FormatTime(uint64_t seconds);

// Prints "edgetrust: <message>" as one line on stderr (newlines in the message become spaces).
void PrintError(std::string_view message);

}  // namespace edgetrust::cli
