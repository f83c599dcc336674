#include "identity/cert_builder.h"

#include <openssl/rand.h>

#include <string>

#include "identity/signing.h"

namespace edgetrust::identity {
namespace {

Status Internal(const std::string& what) {
  return Status(ErrorCode::kInternal, OpensslError(what));
}

Status SetRandomSerial(X509* cert, OSSL_LIB_CTX* libctx) {
  unsigned char serial[16];
  if (RAND_bytes_ex(libctx, serial, sizeof serial, 0) != 1) return Internal("RAND_bytes_ex");
  // Positive (top bit clear) and exactly 16 bytes long in DER (next bit set), so it never needs
  // a leading zero byte and never shrinks.
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7F) | 0x40);
  BignumPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn) return Internal("BN_bin2bn");
  Asn1IntegerPtr asn1(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!asn1 || X509_set_serialNumber(cert, asn1.get()) != 1) return Internal("serial number");
  return Status::Ok();
}

Status SetTime(ASN1_TIME* field, int64_t t) {
  // ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime after, as RFC 5280 says.
  if (ASN1_TIME_set(field, static_cast<time_t>(t)) == nullptr) return Internal("ASN1_TIME_set");
  return Status::Ok();
}

// One extension from its OpenSSL configuration text, in the context of issuer and subject.
Status AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) return Internal(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
  if (X509_add_ext(cert, ext.get(), -1) != 1) return Internal("X509_add_ext");
  return Status::Ok();
}

bool IsRsaKey(const EVP_PKEY* key) { return EVP_PKEY_is_a(key, "RSA") == 1; }

}  // namespace

Validity ComputeValidity(int64_t now, uint32_t days, int64_t issuer_not_after) {
  Validity v;
  v.not_before = now - kBackdateSeconds;
  v.not_after = now + static_cast<int64_t>(days) * kSecondsPerDay;
  if (issuer_not_after > 0 && v.not_after > issuer_not_after) {
    v.not_after = issuer_not_after;
    v.capped = true;
  }
  return v;
}

Result<X509Ptr> BuildCertificate(const CertSpec& spec, const CertSigner& signer) {
  if (spec.subject_key == nullptr || signer.signing_key == nullptr) {
    return Status(ErrorCode::kInvalidArgument, "certificate needs a subject key and a signer");
  }
  if (spec.not_after <= spec.not_before) {
    return Status(ErrorCode::kInvalidArgument, "certificate would end before it starts");
  }
  const bool self_signed = signer.issuer == nullptr;
  if (self_signed && spec.profile != Profile::kCa) {
    return Status(ErrorCode::kInvalidArgument, "only CA certificates are self-signed here");
  }
  if (spec.subject.empty() && spec.sans.empty()) {
    return Status(ErrorCode::kInvalidArgument, "certificate needs a subject or a SAN");
  }

  X509Ptr cert(X509_new_ex(signer.libctx, nullptr));
  if (!cert) return Internal("X509_new_ex");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return Internal("X509_set_version");
  ET_RETURN_IF_ERROR(SetRandomSerial(cert.get(), signer.libctx));
  ET_ASSIGN_OR_RETURN(X509NamePtr subject, ToX509Name(spec.subject));
  if (X509_set_subject_name(cert.get(), subject.get()) != 1) return Internal("subject");
  const X509_NAME* issuer_name = self_signed ? subject.get() : X509_get_subject_name(signer.issuer);
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1) return Internal("issuer");
  ET_RETURN_IF_ERROR(SetTime(X509_getm_notBefore(cert.get()), spec.not_before));
  ET_RETURN_IF_ERROR(SetTime(X509_getm_notAfter(cert.get()), spec.not_after));
  if (X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(spec.subject_key)) != 1) {
    return Internal("X509_set_pubkey");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, self_signed ? cert.get() : const_cast<X509*>(signer.issuer), cert.get(),
                 nullptr, nullptr, 0);
  // The subject key identifier first: the self-signed CA's authority key identifier refers to it.
  ET_RETURN_IF_ERROR(AddConfExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  if (spec.profile == Profile::kCa) {
    ET_RETURN_IF_ERROR(
        AddConfExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
    ET_RETURN_IF_ERROR(
        AddConfExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    ET_RETURN_IF_ERROR(
        AddConfExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
    ET_RETURN_IF_ERROR(AddConfExtension(cert.get(), &ctx, NID_key_usage,
                                        IsRsaKey(spec.subject_key)
                                            ? "critical,digitalSignature,keyEncipherment"
                                            : "critical,digitalSignature"));
    std::string eku;
    if (IsServerProfile(spec.profile)) eku = "serverAuth";
    if (IsClientProfile(spec.profile)) eku += eku.empty() ? "clientAuth" : ",clientAuth";
    ET_RETURN_IF_ERROR(AddConfExtension(cert.get(), &ctx, NID_ext_key_usage, eku));
  }
  if (!spec.sans.empty()) {
    ET_ASSIGN_OR_RETURN(GeneralNamesPtr names, ToGeneralNames(spec.sans));
    if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(),
                          spec.subject.empty() ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
      return Internal("subjectAltName");
    }
  }
  ET_RETURN_IF_ERROR(
      AddConfExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));

  ET_ASSIGN_OR_RETURN(EvpMdCtxPtr md, SigningContext(signer.signing_key, signer.libctx));
  if (X509_sign_ctx(cert.get(), md.get()) <= 0) {
    return Internal("signing the certificate with " + DescribeKey(signer.signing_key) + " failed");
  }
  EVP_PKEY* verify_key = self_signed ? X509_get0_pubkey(cert.get())
                                     : X509_get0_pubkey(const_cast<X509*>(signer.issuer));
  if (verify_key == nullptr || X509_verify(cert.get(), verify_key) != 1) {
    return Status(ErrorCode::kInternal,
                  OpensslError("the new certificate's signature does not verify with the "
                               "issuer's public key"));
  }
  return cert;
}

}  // namespace edgetrust::identity
