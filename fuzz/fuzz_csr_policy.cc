// Fuzz target: the CSR-to-certificate policy step of `edgetrust cert issue` (identity/csr_policy.h
// and cert_builder.h): a certificate signing request from a stranger, checked and certified by
// the local CA.
//
// Input: one selector byte (bits 0-1: profile client, server, client-server, client; bit 2: add
// the extra SAN "DNS:extra.example" as --san would), then the CSR, PEM or DER. PlanFromCsr must
// refuse with kInvalidArgument, kTooLarge, kVerifyFailed or kUnsupported and a message, or give a
// plan whose subject and SANs are canonical (they re-parse to themselves), non-empty between them,
// with a DNS/IP SAN for server profiles and a certifiable key. Every plan is then certified by a
// software CA made at start-up (standing in for the secure domain): the certificate must verify
// with the CA's key, name it as issuer, never be a CA, carry exactly the plan's subject and SANs
// and the profile's extendedKeyUsage.
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "identity/cert_builder.h"
#include "identity/certificate.h"
#include "identity/csr_policy.h"
#include "identity/signing.h"

namespace {

namespace id = edgetrust::identity;

constexpr int64_t kNow = 1750000000;

struct Ca {
  edgetrust::EvpPkeyPtr key;
  edgetrust::X509Ptr cert;
};

const Ca& TheCa() {
  static const Ca* ca = [] {
    auto* c = new Ca;
    c->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    id::CertSpec spec;
    spec.profile = id::Profile::kCa;
    spec.subject = *id::ParseSubject("/CN=fuzz device CA/O=EdgeTrust");
    spec.subject_key = c->key.get();
    spec.not_before = kNow - 300;
    spec.not_after = kNow + 3650LL * 86400;
    auto cert = id::BuildCertificate(spec, id::CertSigner{nullptr, c->key.get(), nullptr});
    if (!cert.ok()) __builtin_trap();
    c->cert = std::move(cert).value();
    return c;
  }();
  return *ca;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edgetrust::ErrorCode;
  if (size < 1) return 0;
  static constexpr id::Profile kProfiles[4] = {id::Profile::kClient, id::Profile::kServer,
                                               id::Profile::kClientServer, id::Profile::kClient};
  id::CsrRequest request;
  request.profile = kProfiles[data[0] & 3];
  if ((data[0] & 4) != 0) request.extra_sans = {id::San{id::SanType::kDns, "extra.example"}};
  edgetrust::ByteView csr(data + 1, size - 1);

  auto plan = id::PlanFromCsr(csr, request);
  if (!plan.ok()) {
    const ErrorCode code = plan.status().code();
    ET_FUZZ_CHECK(code == ErrorCode::kInvalidArgument || code == ErrorCode::kTooLarge ||
                  code == ErrorCode::kVerifyFailed || code == ErrorCode::kUnsupported);
    ET_FUZZ_CHECK(!plan.status().message().empty());
    return 0;
  }
  ET_FUZZ_CHECK(!plan->subject.empty() || !plan->sans.empty());
  ET_FUZZ_CHECK(plan->sans.size() <= id::kMaxSans);
  ET_FUZZ_CHECK(id::CheckCertifiableKey(plan->public_key.get()).ok());
  if (!plan->subject.empty()) {
    auto again = id::ParseSubject(id::FormatSubject(plan->subject));
    ET_FUZZ_CHECK(again.ok() && *again == plan->subject);
  }
  bool has_host = false;
  for (const auto& s : plan->sans) {
    auto again = id::ParseSan(id::FormatSan(s));
    ET_FUZZ_CHECK(again.ok() && *again == s);
    has_host = has_host || s.type == id::SanType::kDns || s.type == id::SanType::kIp;
  }
  ET_FUZZ_CHECK(!id::IsServerProfile(request.profile) || has_host);

  const Ca& ca = TheCa();
  id::CertSpec spec;
  spec.profile = request.profile;
  spec.subject = plan->subject;
  spec.sans = plan->sans;
  spec.subject_key = plan->public_key.get();
  id::Validity v = id::ComputeValidity(kNow, 30, id::NotAfter(ca.cert.get()));
  spec.not_before = v.not_before;
  spec.not_after = v.not_after;
  auto cert = id::BuildCertificate(spec, id::CertSigner{ca.cert.get(), ca.key.get(), nullptr});
  if (!cert.ok()) {
    // Only a subject the string table cannot encode (e.g. non-ASCII in an IA5 attribute).
    ET_FUZZ_CHECK(cert.status().code() == ErrorCode::kInvalidArgument);
    return 0;
  }
  X509* c = cert->get();
  ET_FUZZ_CHECK(id::IsIssuedBy(c, ca.cert.get()));
  ET_FUZZ_CHECK(!id::IsCa(c));
  ET_FUZZ_CHECK(id::SameKey(id::PublicKey(c), plan->public_key.get()));
  auto subject = id::FromX509Name(X509_get_subject_name(c));
  ET_FUZZ_CHECK(subject.ok() && *subject == plan->subject);
  auto sans = id::SansOfCertificate(c);
  ET_FUZZ_CHECK(sans.ok() && *sans == plan->sans);
  const uint32_t xku = X509_get_extended_key_usage(c);
  ET_FUZZ_CHECK(((xku & XKU_SSL_SERVER) != 0) == id::IsServerProfile(request.profile));
  ET_FUZZ_CHECK(((xku & XKU_SSL_CLIENT) != 0) == id::IsClientProfile(request.profile));
  ET_FUZZ_CHECK((X509_get_key_usage(c) & KU_KEY_CERT_SIGN) == 0);
  return 0;
}
