#include "identity/certificate.h"

#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cctype>
#include <climits>
#include <ctime>

#include "common/hex.h"
#include "identity/pem.h"

namespace edgetrust::identity {
namespace {

int64_t TimeOf(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(::timegm(&tm));
}

Result<X509Ptr> ParseDer(const Bytes& der, OSSL_LIB_CTX* libctx, const std::string& where) {
  if (der.size() > INT_MAX) return Status(ErrorCode::kInvalidArgument, where + ": too large");
  X509Ptr cert(X509_new_ex(libctx, nullptr));
  if (!cert) return Status(ErrorCode::kInternal, "X509_new_ex failed");
  const unsigned char* p = der.data();
  X509* raw = cert.get();
  if (d2i_X509(&raw, &p, static_cast<long>(der.size())) == nullptr) {
    // d2i_X509 freed the object it was given on failure.
    (void)cert.release();
    return Status(ErrorCode::kInvalidArgument,
                  OpensslError(where + ": not a valid DER certificate"));
  }
  if (p != der.data() + der.size()) {
    return Status(ErrorCode::kInvalidArgument, where + ": bytes after the certificate's DER");
  }
  return cert;
}

}  // namespace

Result<std::vector<X509Ptr>> ParseCertificatesOrEmpty(std::string_view pem, std::string_view what,
                                                      OSSL_LIB_CTX* libctx) {
  if (pem.size() > kMaxCertificateFileSize) {
    return Status(ErrorCode::kTooLarge, std::string(what) + " is larger than " +
                                            std::to_string(kMaxCertificateFileSize) + " bytes");
  }
  ET_ASSIGN_OR_RETURN(auto blocks, ParsePemBlocks(pem, what));
  std::vector<X509Ptr> certs;
  for (const auto& b : blocks) {
    const std::string where = std::string(what) + ": line " + std::to_string(b.line);
    if (b.label.find("PRIVATE KEY") != std::string::npos) {
      return Status(ErrorCode::kInvalidArgument,
                    where + ": holds a private key (" + b.label +
                        "); a certificate file must contain certificates only");
    }
    if (b.label != "CERTIFICATE") {
      return Status(ErrorCode::kInvalidArgument,
                    where + ": unexpected PEM block \"" + b.label + "\" (certificates only)");
    }
    ET_ASSIGN_OR_RETURN(X509Ptr cert, ParseDer(b.der, libctx, where));
    certs.push_back(std::move(cert));
  }
  return certs;
}

Result<std::vector<X509Ptr>> ParseCertificates(std::string_view pem, std::string_view what,
                                               OSSL_LIB_CTX* libctx) {
  ET_ASSIGN_OR_RETURN(auto certs, ParseCertificatesOrEmpty(pem, what, libctx));
  if (certs.empty()) {
    return Status(ErrorCode::kInvalidArgument, std::string(what) + ": no certificate in it");
  }
  return certs;
}

std::string ToPem(const X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0) return {};
  std::string out = EncodePem("CERTIFICATE", ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return out;
}

std::string ToPem(const std::vector<X509Ptr>& certs) {
  std::string out;
  for (const auto& c : certs) out += ToPem(c.get());
  return out;
}

Result<X509Ptr> Duplicate(const X509* cert) {
  if (X509_up_ref(const_cast<X509*>(cert)) != 1) {
    return Status(ErrorCode::kInternal, "X509_up_ref failed");
  }
  return X509Ptr(const_cast<X509*>(cert));
}

std::string Fingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  return HexEncode(ByteView(md, len));
}

std::string NormalizeFingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out.size() == 64 ? out : std::string();
}

std::string KeyFingerprint(const EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return "?";
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), md);
  OPENSSL_free(der);
  return HexEncode(ByteView(md, sizeof md));
}

int64_t NotBefore(const X509* cert) { return TimeOf(X509_get0_notBefore(cert)); }
int64_t NotAfter(const X509* cert) { return TimeOf(X509_get0_notAfter(cert)); }

bool IsCa(const X509* cert) {
  const uint32_t flags = X509_get_extension_flags(const_cast<X509*>(cert));
  return (flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) != 0 && (flags & EXFLAG_INVALID) == 0;
}

bool IsSelfSigned(const X509* cert) { return X509_self_signed(const_cast<X509*>(cert), 1) == 1; }

bool IsIssuedBy(const X509* cert, const X509* issuer) {
  if (X509_check_issued(const_cast<X509*>(issuer), const_cast<X509*>(cert)) != X509_V_OK) {
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  return key != nullptr && X509_verify(const_cast<X509*>(cert), key) == 1;
}

const EVP_PKEY* PublicKey(const X509* cert) { return X509_get0_pubkey(cert); }

Result<EvpPkeyPtr> ParsePublicKeyPem(std::string_view pem) {
  if (pem.size() > INT_MAX) return Status(ErrorCode::kInvalidArgument, "public key too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status(ErrorCode::kInternal, "BIO_new_mem_buf failed");
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status(ErrorCode::kInvalidArgument, OpensslError("not a PEM public key"));
  return key;
}

bool SameKey(const EVP_PKEY* a, const EVP_PKEY* b) {
  return a != nullptr && b != nullptr && EVP_PKEY_eq(a, b) == 1;
}

}  // namespace edgetrust::identity
