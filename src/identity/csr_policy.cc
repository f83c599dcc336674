#include "identity/csr_policy.h"

#include <openssl/objects.h>

#include "identity/csr.h"
#include "identity/signing.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {
namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

std::string ObjectName(const ASN1_OBJECT* obj) {
  const int nid = OBJ_obj2nid(obj);
  if (nid != NID_undef) return OBJ_nid2sn(nid);
  char buf[80];
  OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return buf;
}

// The request's extensions: the SANs it asks for, and the names of everything else.
Status ReadExtensions(X509_REQ* req, CsrPlan& plan) {
  // The extensionRequest attribute, if present, must decode; X509_REQ_get_extensions returns an
  // empty stack or NULL when there is none.
  const int attr = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1);
  if (attr < 0) return Status::Ok();
  if (X509_REQ_get_attr_by_NID(req, NID_ext_req, attr) >= 0) {
    return Invalid("CSR has more than one extensionRequest attribute");
  }
  X509ExtensionStackPtr exts(X509_REQ_get_extensions(req));
  if (!exts) return Invalid(OpensslError("CSR extensionRequest is malformed"));
  bool seen_san = false;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    if (OBJ_obj2nid(obj) != NID_subject_alt_name) {
      plan.ignored_extensions.push_back(ObjectName(obj));
      continue;
    }
    if (seen_san) return Invalid("CSR requests subjectAltName twice");
    seen_san = true;
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    if (!names) return Invalid(OpensslError("CSR subjectAltName is malformed"));
    auto sans = FromGeneralNames(names.get());
    if (!sans.ok()) return Invalid("CSR subjectAltName: " + sans.status().message());
    plan.sans = std::move(sans).value();
  }
  return Status::Ok();
}

}  // namespace

Result<CsrPlan> PlanFromCsr(ByteView csr, const CsrRequest& request) {
  if (request.profile == Profile::kCa) {
    return Invalid("a CSR is never issued a CA certificate here (leaf profiles only)");
  }
  ET_ASSIGN_OR_RETURN(X509ReqPtr req, ParseCsr(csr));
  if (X509_REQ_get_version(req.get()) != X509_REQ_VERSION_1) {
    return Invalid("CSR has an unknown version (only PKCS#10 v1)");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) return Invalid(OpensslError("CSR public key cannot be decoded"));
  ET_RETURN_IF_ERROR(CheckCertifiableKey(key));
  // Proof of possession: only the holder of the private key could have signed the request.
  if (X509_REQ_verify(req.get(), key) != 1) {
    return Status(ErrorCode::kVerifyFailed,
                  OpensslError("CSR signature does not verify with the CSR's own public key"));
  }
  CsrPlan plan;
  auto subject = FromX509Name(X509_REQ_get_subject_name(req.get()));
  if (!subject.ok()) return Invalid("CSR " + subject.status().message());
  plan.subject = std::move(subject).value();
  ET_RETURN_IF_ERROR(ReadExtensions(req.get(), plan));
  ET_RETURN_IF_ERROR(MergeSans(plan.sans, request.extra_sans));
  if (plan.subject.empty() && plan.sans.empty()) {
    return Invalid("CSR has neither a subject nor a subjectAltName");
  }
  if (IsServerProfile(request.profile)) {
    // TLS clients match the server name against DNS/IP SANs only (RFC 6125); a server
    // certificate without one would be refused by every client.
    bool has_name = false;
    for (const auto& s : plan.sans) {
      has_name = has_name || s.type == SanType::kDns || s.type == SanType::kIp;
    }
    if (!has_name) {
      return Invalid("a server certificate needs a DNS or IP subjectAltName (add --san DNS:name)");
    }
  }
  if (EVP_PKEY_up_ref(key) != 1) return Status(ErrorCode::kInternal, "EVP_PKEY_up_ref failed");
  plan.public_key.reset(key);
  return plan;
}

}  // namespace edgetrust::identity
