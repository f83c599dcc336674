// Detached CMS signatures over manifests (signature.h), with OpenSSL 3's CMS implementation.
#include "deploy/signature.h"

#include <openssl/cms.h>
#include <openssl/err.h>

#include <string>

#include "identity/certificate.h"

namespace edgetrust::deploy {
namespace {

using CmsPtr = std::unique_ptr<CMS_ContentInfo, OsslDeleter<CMS_ContentInfo_free>>;
// CMS_get0_signers returns a stack of borrowed certificates: free the stack only.
inline void FreeBorrowedX509Stack(STACK_OF(X509) * s) { sk_X509_free(s); }
using BorrowedX509StackPtr = std::unique_ptr<STACK_OF(X509), OsslDeleter<FreeBorrowedX509Stack>>;

// Every queued OpenSSL error with its data ("Verify error:certificate has expired"), then clears
// the queue.
std::string DrainErrors() {
  std::string text;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    const char* reason = ERR_reason_error_string(e);
    std::string one = reason ? reason : "error " + std::to_string(e);
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0')
      one += ": " + std::string(data);
    if (text.find(one) == std::string::npos) text += (text.empty() ? "" : "; ") + one;
  }
  ERR_clear_error();
  return text;
}

BioPtr MemBio(ByteView bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string SubjectText(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// The reason of a failed CMS_verify, in words a reader can act on.
std::string VerifyReason(const std::string& errors) {
  if (errors.find("content verify error") != std::string::npos ||
      errors.find("verification failure") != std::string::npos) {
    return "the manifest does not match the signature (changed after signing, or signed by "
           "another key) [" +
           errors + "]";
  }
  if (errors.find("certificate has expired") != std::string::npos) {
    return "the signer's certificate (or one of its CAs) has expired [" + errors + "]";
  }
  if (errors.find("not yet valid") != std::string::npos) {
    return "the signer's certificate (or one of its CAs) is not yet valid [" + errors + "]";
  }
  if (errors.find("Verify error") != std::string::npos ||
      errors.find("certificate verify error") != std::string::npos) {
    return "the signer does not chain to a trusted deployment CA [" + errors + "]";
  }
  if (errors.find("no content") != std::string::npos ||
      errors.find("content") != std::string::npos) {
    return "the signature is not a detached signature over the manifest [" + errors + "]";
  }
  return errors.empty() ? "CMS verification failed" : errors;
}

}  // namespace

Result<SignerInfo> VerifyManifestSignature(ByteView manifest, ByteView signature,
                                           const std::vector<X509Ptr>& trusted, int64_t now) {
  ERR_clear_error();
  if (signature.size() > kMaxSignatureBytes) {
    return Status(ErrorCode::kTooLarge, "manifest signature: larger than " +
                                            std::to_string(kMaxSignatureBytes) + " bytes");
  }
  if (signature.empty()) return Status(ErrorCode::kMalformed, "manifest signature: empty");
  const unsigned char* p = signature.data();
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(signature.size())));
  if (!cms || p != signature.data() + signature.size()) {
    const std::string errors = DrainErrors();
    return Status(ErrorCode::kMalformed, "manifest signature: not a DER CMS structure" +
                                             (cms              ? std::string(" (trailing bytes)")
                                              : errors.empty() ? ""
                                                               : " (" + errors + ")"));
  }
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return Status(ErrorCode::kVerifyFailed,
                  "manifest signature: the CMS structure is not SignedData");
  }
  ASN1_OCTET_STRING** content = CMS_get0_content(cms.get());
  if (content != nullptr && *content != nullptr) {
    return Status(ErrorCode::kVerifyFailed,
                  "manifest signature: carries its own content; a detached signature is expected");
  }
  if (trusted.empty()) {
    return Status(ErrorCode::kVerifyFailed,
                  "manifest signature: no trusted deployment signers (the trust bundle is empty)");
  }
  X509StorePtr store(X509_STORE_new());
  if (!store) return Status(ErrorCode::kInternal, "X509_STORE_new failed");
  for (const auto& cert : trusted) {
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
      ERR_clear_error();  // a duplicate certificate: harmless
    }
  }
  X509_VERIFY_PARAM* param = X509_STORE_get0_param(store.get());
  if (X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY) != 1) {
    return Status(ErrorCode::kInternal, "cannot set the verification purpose: " + DrainErrors());
  }
  if (now != 0) X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now));

  BioPtr content_bio = MemBio(manifest);
  if (!content_bio) return Status(ErrorCode::kInternal, "BIO_new_mem_buf failed");
  if (CMS_verify(cms.get(), nullptr, store.get(), content_bio.get(), nullptr, CMS_BINARY) != 1) {
    return Status(ErrorCode::kVerifyFailed, "manifest signature: " + VerifyReason(DrainErrors()));
  }
  BorrowedX509StackPtr signers(CMS_get0_signers(cms.get()));
  if (!signers || sk_X509_num(signers.get()) < 1) {
    ERR_clear_error();
    return Status(ErrorCode::kVerifyFailed, "manifest signature: names no signer certificate");
  }
  SignerInfo info;
  for (int i = 0; i < sk_X509_num(signers.get()); ++i) {
    X509* signer = sk_X509_value(signers.get(), i);
    if ((X509_get_extension_flags(signer) & EXFLAG_KUSAGE) != 0 &&
        (X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE) == 0) {
      return Status(ErrorCode::kVerifyFailed, "manifest signature: the signer's certificate (" +
                                                  SubjectText(signer) +
                                                  ") has a keyUsage without digitalSignature");
    }
    if (i == 0) {
      info.subject = SubjectText(signer);
      info.fingerprint = identity::Fingerprint(signer);
    }
  }
  ERR_clear_error();
  return info;
}

Result<Bytes> SignManifest(ByteView manifest, EVP_PKEY* key, X509* cert,
                           const std::vector<X509Ptr>& chain) {
  ERR_clear_error();
  if (key == nullptr || cert == nullptr) {
    return Status(ErrorCode::kInvalidArgument,
                  "sign manifest: a key and its certificate are needed");
  }
  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument,
                  "sign manifest: the certificate does not certify the signing key");
  }
  X509StackPtr certs(sk_X509_new_null());
  if (!certs) return Status(ErrorCode::kInternal, "sk_X509_new_null failed");
  for (const auto& c : chain) {
    if (X509_up_ref(c.get()) != 1) return Status(ErrorCode::kInternal, "X509_up_ref failed");
    if (sk_X509_push(certs.get(), c.get()) <= 0) {
      X509_free(c.get());
      return Status(ErrorCode::kInternal, "sk_X509_push failed");
    }
  }
  BioPtr data = MemBio(manifest);
  if (!data) return Status(ErrorCode::kInternal, "BIO_new_mem_buf failed");
  CmsPtr cms(
      CMS_sign(cert, key, certs.get(), data.get(), CMS_DETACHED | CMS_BINARY | CMS_NOSMIMECAP));
  if (!cms) {
    return Status(ErrorCode::kInternal, "sign manifest: CMS_sign failed: " + DrainErrors());
  }
  unsigned char* der = nullptr;
  const int len = i2d_CMS_ContentInfo(cms.get(), &der);
  if (len <= 0) {
    return Status(ErrorCode::kInternal, "sign manifest: cannot encode the CMS: " + DrainErrors());
  }
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace edgetrust::deploy
