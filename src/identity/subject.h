// Distinguished names as operators write them on the command line and in the inventory:
// "/CN=gw-0042/O=Acme/OU=Plant 4", the form `openssl req -subj` takes.
//
// The parser is strict on purpose: an attribute outside a short list of well-known ones, an empty
// value, a control character or an over-long value is an error that names the component, rather
// than a surprise inside a certificate. Multi-valued RDNs ("/CN=a+O=b") are not supported; a
// literal '+' or '/' in a value is written "\+" or "\/", a backslash "\\".
// Errors: kInvalidArgument with the reason. Thread safety: plain values and free functions.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

struct NameAttribute {
  std::string field;  // OpenSSL's short name, e.g. "CN", "O", "emailAddress"
  std::string value;  // UTF-8
  bool operator==(const NameAttribute&) const = default;
};

struct Subject {
  std::vector<NameAttribute> attributes;  // in order, most significant first
  bool empty() const { return attributes.empty(); }
  bool operator==(const Subject&) const = default;
  // The value of the first attribute `field`, or "" when there is none.
  std::string Get(std::string_view field) const;
};

inline constexpr size_t kMaxNameAttributes = 16;

// "/CN=x/O=y" -> Subject. At least one attribute.
Result<Subject> ParseSubject(std::string_view text);
// Subject -> "/CN=x/O=y", escaping '/', '+' and '\' so that ParseSubject gives it back.
std::string FormatSubject(const Subject& subject);

// The X509_NAME for a subject (country as PrintableString, the rest as the OpenSSL string table
// says: UTF8String for most, IA5String for DC and emailAddress).
Result<X509NamePtr> ToX509Name(const Subject& subject);
// The subject held in a certificate or request, checked by the same rules as ParseSubject (so a
// request cannot smuggle an attribute the command line would refuse). May be empty.
Result<Subject> FromX509Name(const X509_NAME* name);
// A display form of any X509_NAME ("/CN=x/O=y"), never failing: for printing peers' names.
std::string DisplayName(const X509_NAME* name);

}  // namespace edgetrust::identity
