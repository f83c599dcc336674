#include "provider/key_uri.h"

#include <openssl/evp.h>

#include <cctype>

namespace edgetrust::provider {
namespace {

Status Bad(std::string what) {
  return Status(ErrorCode::kInvalidArgument, "edgetrust key URI: " + std::move(what));
}

// The key names the daemon accepts (src/sd/dispatcher.cc), with one optional "PRINCIPAL/" part.
bool ValidNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == ':';
}

Status CheckName(std::string_view name) {
  if (name.empty()) return Bad("no key name after 'edgetrust:'");
  if (name.size() > 200) return Bad("key name longer than 200 characters");
  size_t slash = name.find('/');
  if (slash != std::string_view::npos && name.find('/', slash + 1) != std::string_view::npos)
    return Bad("key name has more than one '/': use NAME or PRINCIPAL/NAME");
  if (slash == 0 || slash + 1 == name.size()) return Bad("empty part around '/' in the key name");
  for (char c : name) {
    if (c != '/' && !ValidNameChar(c))
      return Bad("character " + std::to_string(static_cast<unsigned char>(c)) +
                 " not allowed in a key name");
  }
  return Status::Ok();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Control characters have no place in a socket path; a NUL would also cut it short as a C string.
bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsControl(s[i])) return Bad("control character in the socket path");
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return Bad("truncated %-escape");
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return Bad("bad %-escape");
    char c = static_cast<char>(hi * 16 + lo);
    if (IsControl(c)) return Bad("control character in the socket path");
    out += c;
    i += 2;
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '/' || c == '.' || c == '_' || c == '-') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace

Result<KeyRef> ParseKeyUri(std::string_view uri) {
  if (uri.size() > 4096) return Bad("longer than 4096 characters");
  std::string prefix = std::string(kUriScheme) + ":";
  if (uri.substr(0, prefix.size()) != prefix) return Bad("does not start with '" + prefix + "'");
  uri.remove_prefix(prefix.size());
  // "edgetrust://NAME" is a common slip for "edgetrust:NAME"; say so rather than misparse it.
  if (uri.substr(0, 2) == "//") return Bad("write edgetrust:NAME, without '//'");
  KeyRef ref;
  size_t q = uri.find('?');
  std::string_view name = uri.substr(0, q);
  if (Status s = CheckName(name); !s.ok()) return s;
  ref.name = std::string(name);
  if (q == std::string_view::npos) return ref;
  std::string_view query = uri.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = param.find('=');
    std::string_view key = param.substr(0, eq);
    if (key != "socket") return Bad("unknown parameter '" + std::string(key) + "' (known: socket)");
    if (eq == std::string_view::npos) return Bad("socket= needs a value");
    if (!ref.socket.empty()) return Bad("socket given twice");
    auto path = PercentDecode(param.substr(eq + 1));
    if (!path.ok()) return path.status();
    if (path->empty() || (*path)[0] != '/') return Bad("socket path must be absolute");
    if (path->size() > 107) return Bad("socket path longer than a Unix socket address allows");
    ref.socket = std::move(path).value();
  }
  return ref;
}

std::string FormatKeyUri(const KeyRef& ref) {
  std::string uri = std::string(kUriScheme) + ":" + ref.name;
  if (!ref.socket.empty()) uri += "?socket=" + PercentEncode(ref.socket);
  return uri;
}

std::string FormatKeyPem(const KeyRef& ref) {
  const std::string uri = FormatKeyUri(ref);
  std::string b64(4 * ((uri.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                          reinterpret_cast<const unsigned char*>(uri.data()),
                          static_cast<int>(uri.size()));
  b64.resize(static_cast<size_t>(n));
  std::string pem = "-----BEGIN " + std::string(kPemLabel) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  pem += "-----END " + std::string(kPemLabel) + "-----\n";
  return pem;
}

Result<KeyRef> ParseKeyPemBody(std::string_view body) {
  // The body is the URI itself: plain text, so a person can read it with base64 -d.
  return ParseKeyUri(body);
}

Result<KeyRef> ParseKeyPem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return Bad("PEM text longer than 64 KiB");
  const std::string begin = "-----BEGIN " + std::string(kPemLabel) + "-----";
  const std::string end = "-----END " + std::string(kPemLabel) + "-----";
  size_t b = pem.find(begin);
  if (b == std::string_view::npos) return Bad("no '" + begin + "' line");
  size_t body_start = b + begin.size();
  size_t e = pem.find(end, body_start);
  if (e == std::string_view::npos) return Bad("no '" + end + "' line");
  std::string b64;
  for (char c : pem.substr(body_start, e - body_start)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
    if (!ok) return Bad("the PEM body is not base64");
    b64 += c;
  }
  if (b64.empty() || b64.size() % 4 != 0) return Bad("the PEM body is not base64");
  std::string text(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return Bad("the PEM body is not base64");
  // EVP_DecodeBlock counts padding as output; drop the zero bytes it stands for.
  size_t len = static_cast<size_t>(n);
  if (b64.size() >= 1 && b64[b64.size() - 1] == '=') --len;
  if (b64.size() >= 2 && b64[b64.size() - 2] == '=') --len;
  text.resize(len);
  return ParseKeyPemBody(text);
}

}  // namespace edgetrust::provider
