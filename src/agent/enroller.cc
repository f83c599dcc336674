#include "agent/enroller.h"

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "edgetrust/client.h"
#include "identity/cert_store.h"
#include "identity/certificate.h"
#include "identity/csr_policy.h"
#include "identity/issuer.h"
#include "identity/key_service.h"

namespace edgetrust::agent {
namespace {

constexpr size_t kMaxCsrPem = 16 * 1024;

}  // namespace

std::string CertificateSerialHex(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

Result<std::string> Enroller::Enroll(std::string_view name, std::string_view token,
                                     std::string_view csr_pem, int64_t now_ms) {
  if (csr_pem.size() > kMaxCsrPem) {
    return Status(ErrorCode::kTooLarge, "the CSR exceeds " + std::to_string(kMaxCsrPem) + " bytes");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ET_RETURN_IF_ERROR(registry_.CheckToken(name, token, now_ms));

  identity::CsrRequest request;
  request.profile = identity::Profile::kClient;
  const ByteView csr = AsBytes(csr_pem);
  // The request is checked before the secure domain is asked for anything.
  ET_ASSIGN_OR_RETURN(identity::CsrPlan plan, identity::PlanFromCsr(csr, request));
  const std::string cn = plan.subject.Get("CN");
  if (cn != name) {
    return Status(ErrorCode::kInvalidArgument,
                  "the CSR is for CN=" + cn + ", not CN=" + std::string(name));
  }

  ET_ASSIGN_OR_RETURN(auto client, Client::Connect(options_.sd_socket));
  identity::SdKeyService keys(client.get(), options_.sd_socket);
  ET_ASSIGN_OR_RETURN(identity::CertStore store,
                      identity::CertStore::Open(options_.cert_dir, false));
  ET_ASSIGN_OR_RETURN(identity::Inventory inventory, store.LoadInventory());
  const int64_t now = now_ms / 1000;
  ET_ASSIGN_OR_RETURN(identity::LoadedCa ca,
                      identity::LoadCa(store, keys, inventory, options_.leaf_ca, now));
  ET_ASSIGN_OR_RETURN(identity::CsrIssue issue,
                      identity::IssueFromCsr(keys, ca, csr, request, options_.days, now));
  ET_RETURN_IF_ERROR(
      registry_.ConsumeToken(name, token, now_ms, CertificateSerialHex(issue.issued.cert.get())));
  return identity::ToPem(issue.issued.cert.get()) + identity::ChainPem(issue.issued);
}

}  // namespace edgetrust::agent
