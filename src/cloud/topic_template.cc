#include "cloud/topic_template.h"

#include <charconv>

namespace edgetrust::cloud {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

struct Name {
  std::string_view text;
  Placeholder placeholder;
};
constexpr Name kNames[] = {{"device", Placeholder::kDevice},
                           {"leaf", Placeholder::kLeaf},
                           {"subtopic", Placeholder::kSubtopic},
                           {"seq", Placeholder::kSeq}};

bool HasAny(std::string_view s, std::string_view chars) {
  return s.find_first_of(chars) != std::string_view::npos;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const std::string_view kNul("\0", 1);

}  // namespace

Result<TopicTemplate> TopicTemplate::Compile(std::string_view text, std::string_view what,
                                             unsigned allowed, bool wildcards) {
  auto bad = [&](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(what) + " \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) return bad("empty");
  if (text.size() > 32768) return bad("longer than 32768 bytes");
  if (text.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  TopicTemplate t;
  t.text_ = std::string(text);
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '}') return bad("'}' without '{'");
    if (c != '{') {
      if (!wildcards && (c == '+' || c == '#')) {
        return bad("MQTT wildcards ('+', '#') are not allowed in a topic to publish to");
      }
      literal.push_back(c);
      ++i;
      continue;
    }
    const size_t close = text.find('}', i);
    if (close == std::string_view::npos) return bad("unterminated placeholder");
    const std::string_view name = text.substr(i + 1, close - i - 1);
    const Name* found = nullptr;
    for (const auto& n : kNames) {
      if (n.text == name) found = &n;
    }
    if (found == nullptr) {
      return bad("unknown placeholder {" + std::string(name) +
                 "} (known: {device} {leaf} {subtopic} {seq})");
    }
    if ((allowed & PlaceholderBit(found->placeholder)) == 0) {
      return bad("placeholder {" + std::string(name) + "} cannot be used here");
    }
    if (!literal.empty()) {
      t.parts_.push_back(Part{true, std::move(literal), Placeholder::kDevice});
      literal.clear();
    }
    t.parts_.push_back(Part{false, {}, found->placeholder});
    t.used_ |= PlaceholderBit(found->placeholder);
    i = close + 1;
  }
  if (!literal.empty()) t.parts_.push_back(Part{true, std::move(literal), Placeholder::kDevice});
  return t;
}

bool TopicTemplate::Expand(const TopicValues& values, bool percent_encode, std::string& out) const {
  out.clear();
  char seq_buf[24];
  for (const Part& p : parts_) {
    if (p.literal) {
      out += p.text;
      continue;
    }
    std::string_view v;
    switch (p.placeholder) {
      case Placeholder::kDevice:
        out += values.device;
        continue;
      case Placeholder::kSeq: {
        auto [end, ec] = std::to_chars(seq_buf, seq_buf + sizeof seq_buf, values.seq);
        out.append(seq_buf, end);
        continue;
      }
      case Placeholder::kLeaf:
        v = values.leaf;
        if (!percent_encode && (v.empty() || HasAny(v, "/"))) return false;
        break;
      case Placeholder::kSubtopic:
        v = values.subtopic;
        break;
    }
    if (percent_encode) {
      AppendPercentEncoded(v, out);
    } else {
      if (HasAny(v, "+#") || v.find(kNul) != std::string_view::npos) return false;
      out += v;
    }
  }
  return true;
}

void AppendPercentEncoded(std::string_view s, std::string& out) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
}

bool PercentDecode(std::string_view s, std::string& out) {
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int hi = HexValue(s[i + 1]);
    const int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

}  // namespace edgetrust::cloud
