#include "identity/subject.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstdio>

namespace edgetrust::identity {
namespace {

struct FieldRule {
  const char* name;  // OpenSSL short name
  size_t max_len;    // RFC 5280 upper bounds (ub-*), in bytes of UTF-8
};

// The attributes a device or service certificate plausibly needs; anything else is refused so a
// typo ("/CM=x") is an error instead of an odd OID in a certificate.
constexpr std::array<FieldRule, 15> kFields = {{
    {"C", 2},
    {"ST", 128},
    {"L", 128},
    {"street", 128},
    {"postalCode", 40},
    {"O", 64},
    {"OU", 64},
    {"CN", 64},
    {"serialNumber", 64},
    {"emailAddress", 255},
    {"DC", 63},
    {"UID", 256},
    {"title", 64},
    {"GN", 64},
    {"SN", 64},
}};

const FieldRule* FindField(std::string_view name) {
  for (const auto& f : kFields) {
    std::string_view candidate = f.name;
    if (candidate.size() == name.size() &&
        std::equal(candidate.begin(), candidate.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return &f;
    }
  }
  return nullptr;
}

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

// True if `s` is well-formed UTF-8 without control characters.
bool IsCleanUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || (cp >= 0x80 && cp < 0xA0)) {
      return false;
    }
    i += len;
  }
  return true;
}

Status CheckAttribute(const FieldRule& rule, const std::string& value) {
  const std::string field = rule.name;
  if (value.empty()) return Invalid("subject attribute " + field + " has an empty value");
  if (!IsCleanUtf8(value)) {
    return Invalid("subject attribute " + field +
                   " is not printable UTF-8 (control characters or bad encoding)");
  }
  if (field == "C" && (value.size() != 2 || !std::isupper(static_cast<unsigned char>(value[0])) ||
                       !std::isupper(static_cast<unsigned char>(value[1])))) {
    return Invalid("subject attribute C must be a two-letter upper-case country code");
  }
  if (value.size() > rule.max_len) {
    return Invalid("subject attribute " + field + " is longer than " +
                   std::to_string(rule.max_len) + " bytes");
  }
  return Status::Ok();
}

// Splits on unescaped '/', resolving escapes; reports an unescaped '+'.
Result<std::vector<std::string>> SplitComponents(std::string_view text) {
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 1; i < text.size(); ++i) {  // text[0] is the leading '/'
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return Invalid("subject ends with a lone backslash");
      char n = text[++i];
      if (n != '/' && n != '+' && n != '\\' && n != '=') {
        return Invalid(std::string("subject has an unknown escape \\") + n +
                       " (only \\/, \\+, \\= and \\\\)");
      }
      // Keep an escaped '=' marked so it does not split field from value.
      cur += n == '=' ? std::string("\x01") : std::string(1, n);
    } else if (c == '/') {
      parts.push_back(std::move(cur));
      cur.clear();
    } else if (c == '+') {
      return Invalid(
          "subject has an unescaped '+': multi-valued RDNs are not supported (write \\+ for a "
          "literal plus)");
    } else {
      cur += c;
    }
  }
  parts.push_back(std::move(cur));
  return parts;
}

}  // namespace

std::string Subject::Get(std::string_view field) const {
  for (const auto& a : attributes) {
    if (a.field == field) return a.value;
  }
  return {};
}

Result<Subject> ParseSubject(std::string_view text) {
  if (text.empty()) return Invalid("subject is empty (write it as /CN=name/O=org)");
  if (text.size() > 4096) return Invalid("subject is longer than 4096 bytes");
  if (text[0] != '/') return Invalid("subject must start with '/', as in /CN=name/O=org");
  // Control characters are refused before splitting, which uses \x01 as an internal marker.
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Invalid("subject contains control characters");
    }
  }
  ET_ASSIGN_OR_RETURN(auto parts, SplitComponents(text));
  Subject subject;
  for (auto& part : parts) {
    if (part.empty()) return Invalid("subject has an empty component (a doubled or trailing '/')");
    auto eq = part.find('=');
    if (eq == std::string::npos) {
      return Invalid("subject component \"" + part + "\" is not FIELD=value");
    }
    std::string field = part.substr(0, eq);
    std::string value = part.substr(eq + 1);
    std::replace(value.begin(), value.end(), '\x01', '=');
    if (field.find('\x01') != std::string::npos) {
      return Invalid("subject field name contains an escaped '='");
    }
    const FieldRule* rule = FindField(field);
    if (rule == nullptr) {
      return Invalid("unknown subject attribute \"" + field +
                     "\" (known: C ST L street postalCode O OU CN serialNumber emailAddress DC "
                     "UID title GN SN)");
    }
    ET_RETURN_IF_ERROR(CheckAttribute(*rule, value));
    subject.attributes.push_back({rule->name, std::move(value)});
    if (subject.attributes.size() > kMaxNameAttributes) {
      return Invalid("subject has more than " + std::to_string(kMaxNameAttributes) + " attributes");
    }
  }
  return subject;
}

std::string FormatSubject(const Subject& subject) {
  std::string out;
  for (const auto& a : subject.attributes) {
    out += '/';
    out += a.field;
    out += '=';
    for (char c : a.value) {
      if (c == '/' || c == '+' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

Result<X509NamePtr> ToX509Name(const Subject& subject) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return Status(ErrorCode::kInternal, "X509_NAME_new failed");
  for (const auto& a : subject.attributes) {
    int nid = OBJ_txt2nid(a.field.c_str());
    if (nid == NID_undef) return Invalid("unknown subject attribute " + a.field);
    if (a.value.size() > INT_MAX) return Invalid("subject value too long");
    if (X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(a.value.data()),
                                   static_cast<int>(a.value.size()), -1, 0) != 1) {
      // The string table refused the characters (e.g. non-ASCII in an IA5String attribute).
      return Invalid(OpensslError("subject attribute " + a.field + " has characters its type " +
                                  "cannot hold"));
    }
  }
  return name;
}

Result<Subject> FromX509Name(const X509_NAME* name) {
  Subject subject;
  if (name == nullptr) return subject;
  const int count = X509_NAME_entry_count(name);
  if (count < 0 || static_cast<size_t>(count) > kMaxNameAttributes) {
    return Invalid("subject has more than " + std::to_string(kMaxNameAttributes) + " attributes");
  }
  int last_set = -1;
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    if (e == nullptr) return Invalid("subject entry missing");
    const int set = X509_NAME_ENTRY_set(e);
    if (set == last_set) return Invalid("subject has a multi-valued RDN (not supported)");
    last_set = set;
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const char* sn = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
    const FieldRule* rule = sn == nullptr ? nullptr : FindField(sn);
    if (rule == nullptr || std::string_view(rule->name) != sn) {
      char oid[80];
      OBJ_obj2txt(oid, sizeof oid, X509_NAME_ENTRY_get_object(e), 1);
      return Invalid(std::string("subject has an unsupported attribute ") + oid);
    }
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0) return Invalid(std::string("subject attribute ") + sn + " cannot be read");
    std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    if (value.find('\0') != std::string::npos) {
      return Invalid(std::string("subject attribute ") + sn + " contains a NUL byte");
    }
    ET_RETURN_IF_ERROR(CheckAttribute(*rule, value));
    subject.attributes.push_back({rule->name, std::move(value)});
  }
  return subject;
}

std::string DisplayName(const X509_NAME* name) {
  if (name == nullptr) return "";
  std::string out;
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    char field[80];
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (nid != NID_undef) {
      std::snprintf(field, sizeof field, "%s", OBJ_nid2sn(nid));
    } else {
      OBJ_obj2txt(field, sizeof field, X509_NAME_ENTRY_get_object(e), 1);
    }
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    std::string value = len < 0
                            ? std::string("?")
                            : std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    out += '/';
    out += field;
    out += '=';
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02x", u);
        out += hex;
        continue;
      }
      if (c == '/' || c == '+' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

}  // namespace edgetrust::identity
