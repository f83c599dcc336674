#include "identity/csr.h"

#include <climits>

#include "identity/pem.h"
#include "identity/signing.h"

namespace edgetrust::identity {
namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

Result<X509ReqPtr> ParseCsrDer(ByteView der) {
  if (der.size() > INT_MAX) return Invalid("CSR too large");
  const unsigned char* p = der.data();
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) return Invalid(OpensslError("not a valid PKCS#10 certificate signing request"));
  if (p != der.data() + der.size()) return Invalid("bytes after the CSR's DER");
  return req;
}

}  // namespace

Result<X509ReqPtr> ParseCsr(ByteView data) {
  if (data.size() > kMaxCsrSize) {
    return Status(ErrorCode::kTooLarge,
                  "CSR is larger than " + std::to_string(kMaxCsrSize) + " bytes");
  }
  if (data.empty()) return Invalid("CSR is empty");
  if (!LooksLikePem(data)) return ParseCsrDer(data);
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  ET_ASSIGN_OR_RETURN(auto blocks, ParsePemBlocks(text, "CSR"));
  if (blocks.size() != 1) return Invalid("CSR file must hold exactly one PEM block");
  if (blocks[0].label != "CERTIFICATE REQUEST" && blocks[0].label != "NEW CERTIFICATE REQUEST") {
    return Invalid("CSR file holds a \"" + blocks[0].label + "\" block, not a CERTIFICATE REQUEST");
  }
  return ParseCsrDer(blocks[0].der);
}

Result<X509ReqPtr> BuildCsr(const Subject& subject, const std::vector<San>& sans, EVP_PKEY* key,
                            OSSL_LIB_CTX* libctx) {
  X509ReqPtr req(X509_REQ_new_ex(libctx, nullptr));
  if (!req) return Status(ErrorCode::kInternal, "X509_REQ_new_ex failed");
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
    return Status(ErrorCode::kInternal, "X509_REQ_set_version failed");
  }
  ET_ASSIGN_OR_RETURN(X509NamePtr name, ToX509Name(subject));
  if (X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    return Status(ErrorCode::kInternal, OpensslError("cannot fill the CSR"));
  }
  if (!sans.empty()) {
    ET_ASSIGN_OR_RETURN(GeneralNamesPtr names, ToGeneralNames(sans));
    X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    X509ExtensionPtr ext(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
    if (!exts || !ext || sk_X509_EXTENSION_push(exts.get(), ext.get()) == 0) {
      return Status(ErrorCode::kInternal, OpensslError("cannot encode the SAN request"));
    }
    (void)ext.release();
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
      return Status(ErrorCode::kInternal, OpensslError("X509_REQ_add_extensions failed"));
    }
  }
  ET_ASSIGN_OR_RETURN(EvpMdCtxPtr md, SigningContext(key, libctx));
  if (X509_REQ_sign_ctx(req.get(), md.get()) <= 0) {
    return Status(ErrorCode::kInternal, OpensslError("signing the CSR failed"));
  }
  return req;
}

std::string CsrToPem(const X509_REQ* req) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req, &der);
  if (len <= 0) return {};
  std::string out = EncodePem("CERTIFICATE REQUEST", ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return out;
}

}  // namespace edgetrust::identity
