// MQTT topic templates of the cloud profiles: literal text with the placeholders {device},
// {leaf}, {subtopic} and {seq}, compiled once and expanded for every message into a reused
// string.
//
// Values go in raw or percent-encoded (RFC 3986: everything but ALPHA DIGIT - . _ ~ becomes %XX),
// as the profile says. {device} always goes in raw (the link checks the device id once). A raw
// value must not change the topic's structure: {leaf} must be one non-empty topic level (no '/'),
// and no value may hold the wildcards '+' or '#' or a NUL; Expand refuses such values.
//
// Errors: Compile returns kInvalidArgument naming the template (`what`) for an unknown or
// unterminated placeholder, a placeholder not allowed there, or a wildcard where none may be.
// Thread safety: a compiled template is immutable; Expand may run on several threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::cloud {

enum class Placeholder : uint8_t { kDevice, kLeaf, kSubtopic, kSeq };

// Bit masks of placeholders a template may use.
inline constexpr unsigned kAllPlaceholders = 0xF;
inline constexpr unsigned PlaceholderBit(Placeholder p) { return 1u << static_cast<unsigned>(p); }

struct TopicValues {
  std::string_view device;
  std::string_view leaf;
  std::string_view subtopic;
  uint64_t seq = 0;
};

class TopicTemplate {
 public:
  TopicTemplate() = default;
  // `allowed`: a mask of PlaceholderBit; `wildcards`: whether the literal text may hold '+'/'#'
  // (subscription filters) or not (topics to publish to).
  static Result<TopicTemplate> Compile(std::string_view text, std::string_view what,
                                       unsigned allowed, bool wildcards);

  // Replaces `out` with the topic for `values`. False (and `out` unspecified) when a raw value
  // is not allowed where it goes (see the file comment).
  bool Expand(const TopicValues& values, bool percent_encode, std::string& out) const;

  bool Uses(Placeholder p) const { return (used_ & PlaceholderBit(p)) != 0; }
  const std::string& text() const { return text_; }

 private:
  struct Part {
    bool literal = true;
    std::string text;  // literal text
    Placeholder placeholder = Placeholder::kDevice;
  };
  std::string text_;
  std::vector<Part> parts_;
  unsigned used_ = 0;
};

// Appends `s` percent-encoded (RFC 3986 unreserved characters kept) to `out`.
void AppendPercentEncoded(std::string_view s, std::string& out);
// Decodes %XX escapes; false for a malformed escape. '+' stays '+'.
bool PercentDecode(std::string_view s, std::string& out);

}  // namespace edgetrust::cloud
