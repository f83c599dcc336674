#include "identity/san.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

namespace edgetrust::identity {
namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

Result<std::string> CanonicalIp(std::string_view text) {
  const std::string s(text);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (::inet_pton(AF_INET, s.c_str(), buf) == 1) {
    ::inet_ntop(AF_INET, buf, out, sizeof out);
    return std::string(out);
  }
  if (::inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    ::inet_ntop(AF_INET6, buf, out, sizeof out);
    return std::string(out);
  }
  return Invalid("IP SAN \"" + s + "\" is not an IPv4 or IPv6 address");
}

bool IsUri(std::string_view uri) {
  // RFC 3986 scheme, then printable ASCII without spaces (an IA5String in the certificate).
  auto colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == uri.size()) return false;
  if (!std::isalpha(static_cast<unsigned char>(uri[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    char c = uri[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return std::all_of(uri.begin(), uri.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool IsEmail(std::string_view email) {
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos)
    return false;
  std::string_view local = email.substr(0, at);
  if (!std::all_of(local.begin(), local.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return false;
  std::string_view domain = email.substr(at + 1);
  return IsValidDnsName(domain) && domain.find('*') == std::string_view::npos;
}

Result<San> Check(SanType type, std::string_view value) {
  switch (type) {
    case SanType::kDns:
      if (!IsValidDnsName(value)) {
        return Invalid("DNS SAN \"" + std::string(value) +
                       "\" is not a host name (letters, digits, '-', dots; optional *. prefix)");
      }
      return San{type, Lower(value)};
    case SanType::kIp: {
      ET_ASSIGN_OR_RETURN(std::string ip, CanonicalIp(value));
      return San{type, std::move(ip)};
    }
    case SanType::kUri:
      if (value.size() > 1024 || !IsUri(value)) {
        return Invalid("URI SAN \"" + std::string(value.substr(0, 80)) +
                       "\" is not an absolute URI (scheme:rest, printable ASCII, at most 1024)");
      }
      return San{type, std::string(value)};
    case SanType::kEmail:
      if (value.size() > 254 || !IsEmail(value)) {
        return Invalid("email SAN \"" + std::string(value.substr(0, 80)) +
                       "\" is not an address of the form local@host.name");
      }
      return San{type, std::string(value)};
  }
  return Invalid("unknown SAN type");
}

std::string_view Asn1View(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s))};
}

}  // namespace

bool IsValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!IsLabel(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Result<San> ParseSan(std::string_view text) {
  struct Prefix {
    std::string_view text;
    SanType type;
  };
  static constexpr Prefix kPrefixes[] = {{"DNS:", SanType::kDns},
                                         {"IP:", SanType::kIp},
                                         {"URI:", SanType::kUri},
                                         {"email:", SanType::kEmail}};
  for (const auto& p : kPrefixes) {
    if (StartsWithNoCase(text, p.text)) return Check(p.type, text.substr(p.text.size()));
  }
  return Invalid("SAN \"" + std::string(text.substr(0, 80)) +
                 "\" must start with DNS:, IP:, URI: or email:");
}

Result<std::vector<San>> ParseSans(const std::vector<std::string>& texts) {
  std::vector<San> out;
  for (const auto& t : texts) {
    ET_ASSIGN_OR_RETURN(San s, ParseSan(t));
    ET_RETURN_IF_ERROR(MergeSans(out, {s}));
  }
  return out;
}

std::string FormatSan(const San& san) {
  switch (san.type) {
    case SanType::kDns:
      return "DNS:" + san.value;
    case SanType::kIp:
      return "IP:" + san.value;
    case SanType::kUri:
      return "URI:" + san.value;
    case SanType::kEmail:
      return "email:" + san.value;
  }
  return san.value;
}

std::vector<std::string> FormatSans(const std::vector<San>& sans) {
  std::vector<std::string> out;
  out.reserve(sans.size());
  for (const auto& s : sans) out.push_back(FormatSan(s));
  return out;
}

Status MergeSans(std::vector<San>& sans, const std::vector<San>& more) {
  for (const auto& s : more) {
    if (std::find(sans.begin(), sans.end(), s) != sans.end()) continue;
    if (sans.size() >= kMaxSans) {
      return Invalid("more than " + std::to_string(kMaxSans) + " subjectAltName entries");
    }
    sans.push_back(s);
  }
  return Status::Ok();
}

Result<GeneralNamesPtr> ToGeneralNames(const std::vector<San>& sans) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return Status(ErrorCode::kInternal, "GENERAL_NAMES_new failed");
  for (const auto& s : sans) {
    GeneralNamePtr gn;
    if (s.type == SanType::kIp) {
      ASN1_OCTET_STRING* ip = a2i_IPADDRESS(s.value.c_str());
      if (ip == nullptr) return Invalid("IP SAN " + s.value + " cannot be encoded");
      gn.reset(GENERAL_NAME_new());
      if (!gn) {
        ASN1_OCTET_STRING_free(ip);
        return Status(ErrorCode::kInternal, "GENERAL_NAME_new failed");
      }
      GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip);
    } else {
      const int type = s.type == SanType::kDns   ? GEN_DNS
                       : s.type == SanType::kUri ? GEN_URI
                                                 : GEN_EMAIL;
      if (s.value.size() > INT_MAX) return Invalid("SAN too long");
      ASN1_IA5STRING* str = ASN1_IA5STRING_new();
      if (str == nullptr) return Status(ErrorCode::kInternal, "ASN1_IA5STRING_new failed");
      if (ASN1_STRING_set(str, s.value.data(), static_cast<int>(s.value.size())) != 1) {
        ASN1_IA5STRING_free(str);
        return Status(ErrorCode::kInternal, "ASN1_STRING_set failed");
      }
      gn.reset(GENERAL_NAME_new());
      if (!gn) {
        ASN1_IA5STRING_free(str);
        return Status(ErrorCode::kInternal, "GENERAL_NAME_new failed");
      }
      GENERAL_NAME_set0_value(gn.get(), type, str);
    }
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) {
      return Status(ErrorCode::kInternal, "sk_GENERAL_NAME_push failed");
    }
    (void)gn.release();  // owned by the stack now
  }
  return names;
}

Result<std::vector<San>> FromGeneralNames(const GENERAL_NAMES* names) {
  std::vector<San> out;
  if (names == nullptr) return out;
  const int n = sk_GENERAL_NAME_num(names);
  if (n < 0 || static_cast<size_t>(n) > kMaxSans) {
    return Invalid("more than " + std::to_string(kMaxSans) + " subjectAltName entries");
  }
  for (int i = 0; i < n; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    SanType type;
    std::string value;
    switch (gn->type) {
      case GEN_DNS:
      case GEN_URI:
      case GEN_EMAIL: {
        type = gn->type == GEN_DNS   ? SanType::kDns
               : gn->type == GEN_URI ? SanType::kUri
                                     : SanType::kEmail;
        std::string_view v = Asn1View(gn->d.ia5);
        if (v.find('\0') != std::string_view::npos) {
          return Invalid("subjectAltName entry contains a NUL byte");
        }
        value = std::string(v);
        break;
      }
      case GEN_IPADD: {
        std::string_view raw = Asn1View(gn->d.iPAddress);
        char buf[INET6_ADDRSTRLEN];
        if (raw.size() == 4) {
          ::inet_ntop(AF_INET, raw.data(), buf, sizeof buf);
        } else if (raw.size() == 16) {
          ::inet_ntop(AF_INET6, raw.data(), buf, sizeof buf);
        } else {
          return Invalid("IP subjectAltName entry is neither 4 nor 16 bytes long");
        }
        type = SanType::kIp;
        value = buf;
        break;
      }
      default:
        return Invalid("subjectAltName has an unsupported entry type " + std::to_string(gn->type) +
                       " (only DNS, IP, URI and email)");
    }
    ET_ASSIGN_OR_RETURN(San s, Check(type, value));
    ET_RETURN_IF_ERROR(MergeSans(out, {s}));
  }
  return out;
}

Result<std::vector<San>> SansOfCertificate(const X509* cert) {
  int crit = 0;
  // No index: OpenSSL then reports a repeated extension (crit -2) instead of taking the first.
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr));
  if (names == nullptr) {
    if (crit == -1) return std::vector<San>{};  // no such extension
    return Invalid("certificate has a malformed or repeated subjectAltName extension");
  }
  GeneralNamesPtr owned(names);
  return FromGeneralNames(owned.get());
}

}  // namespace edgetrust::identity
