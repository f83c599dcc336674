#include "identity/pem.h"

#include <array>
#include <cctype>

namespace edgetrust::identity {
namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

Status LineError(std::string_view what, size_t line, const std::string& reason) {
  return Status(ErrorCode::kInvalidArgument,
                std::string(what) + ": line " + std::to_string(line) + ": " + reason);
}

// Strict base64: padding only at the very end, no stray characters, length a multiple of 4.
bool DecodeBase64(std::string_view b64, Bytes& out) {
  if (b64.size() % 4 != 0) return false;
  out.clear();
  out.reserve(b64.size() / 4 * 3);
  for (size_t i = 0; i < b64.size(); i += 4) {
    const bool last = i + 4 == b64.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = b64[i + static_cast<size_t>(k)];
      if (c == '=') {
        if (!last || k < 2) return false;
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      v[k] = Sextet(c);
      if (v[k] < 0) return false;
    }
    const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(n));
  }
  return true;
}

// "-----BEGIN LABEL-----" -> LABEL, or "" if the line is not of that shape.
std::string_view Label(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix) || !line.ends_with(kDashes)) return {};
  if (line.size() < prefix.size() + kDashes.size() + 1) return {};
  std::string_view label = line.substr(prefix.size(), line.size() - prefix.size() - kDashes.size());
  for (char c : label) {
    if (!(std::isupper(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == ' ' || c == '-')) {
      return {};
    }
  }
  return label;
}

}  // namespace

Result<std::vector<PemBlock>> ParsePemBlocks(std::string_view text, std::string_view what) {
  std::vector<PemBlock> blocks;
  bool inside = false;
  PemBlock cur;
  std::string b64;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    std::string_view line = Trim(raw);
    if (line.find('\0') != std::string_view::npos) {
      return LineError(what, line_no, "contains a NUL byte (not a text file)");
    }
    if (!inside) {
      if (line.empty() || line.front() == '#') continue;
      std::string_view label = Label(line, kBegin);
      if (label.empty()) {
        return LineError(what, line_no, "text outside a PEM block (expected -----BEGIN ...)");
      }
      if (blocks.size() >= kMaxPemBlocks) {
        return Status(
            ErrorCode::kInvalidArgument,
            std::string(what) + ": more than " + std::to_string(kMaxPemBlocks) + " PEM blocks");
      }
      inside = true;
      cur = PemBlock{};
      cur.label = std::string(label);
      cur.line = line_no;
      b64.clear();
      continue;
    }
    if (line.starts_with(kEnd)) {
      std::string_view label = Label(line, kEnd);
      if (label != cur.label) {
        return LineError(what, line_no,
                         "END line does not match -----BEGIN " + cur.label + "-----");
      }
      if (b64.empty() || !DecodeBase64(b64, cur.der) || cur.der.empty()) {
        return LineError(what, cur.line, cur.label + " block is not valid base64");
      }
      blocks.push_back(std::move(cur));
      inside = false;
      continue;
    }
    if (line.find(':') != std::string_view::npos) {
      return LineError(what, line_no,
                       "PEM headers are not supported (an encrypted or legacy PEM block?)");
    }
    for (char c : line) {
      if (Sextet(c) < 0 && c != '=') {
        return LineError(what, line_no, "invalid base64 character inside a PEM block");
      }
    }
    b64.append(line);
  }
  if (inside) {
    return LineError(what, cur.line, "-----BEGIN " + cur.label + "----- without an END line");
  }
  return blocks;
}

bool LooksLikePem(ByteView data) {
  size_t i = 0;
  while (i < data.size() && std::isspace(data[i])) ++i;
  std::string_view rest(reinterpret_cast<const char*>(data.data()) + i, data.size() - i);
  return rest.starts_with(kBegin);
}

std::string EncodePem(std::string_view label, ByteView der) {
  std::string body;
  for (size_t i = 0; i < der.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(der[i]) << 16;
    const size_t left = der.size() - i;
    if (left > 1) n |= static_cast<uint32_t>(der[i + 1]) << 8;
    if (left > 2) n |= der[i + 2];
    body += kAlphabet[(n >> 18) & 63];
    body += kAlphabet[(n >> 12) & 63];
    body += left > 1 ? kAlphabet[(n >> 6) & 63] : '=';
    body += left > 2 ? kAlphabet[n & 63] : '=';
  }
  std::string out = std::string(kBegin) + std::string(label) + std::string(kDashes) + "\n";
  for (size_t i = 0; i < body.size(); i += 64) {
    out.append(body, i, 64);
    out += '\n';
  }
  out += std::string(kEnd) + std::string(label) + std::string(kDashes) + "\n";
  return out;
}

}  // namespace edgetrust::identity
