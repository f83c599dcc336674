// Signatures with secure-domain keys: ECDSA, RSA (PKCS#1 v1.5 and PSS) and Ed25519.
//
// Signing hashes in-process and sends the digest to the daemon (Ed25519, which signs messages,
// sends the message). Verifying is entirely in-process with the key's public part. Every context
// also keeps an in-process "delegate": the same operation set up by OpenSSL's own implementation
// on the public key with the same parameters. It interprets parameters exactly as OpenSSL does
// (digest aliases, padding names, salt lengths), answers parameter queries such as the
// AlgorithmIdentifier that X.509 signing asks for, and does the verifying.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "provider/provider.h"
#include "provider/sd_key.h"

namespace edgetrust::provider {
namespace {

using EvpMdPtr = std::unique_ptr<EVP_MD, OsslDeleter<EVP_MD_free>>;

enum class Op { kNone, kSign, kVerify, kDigestSign, kDigestVerify };

struct SigCtx {
  const ProviderCtx* prov = nullptr;
  SdKey* key = nullptr;  // a reference held while the context lives
  Op op = Op::kNone;
  EvpMdPtr md;                       // the digest, once known (not for Ed25519)
  EvpMdCtxPtr hash;                  // digest-sign: our running hash
  EvpMdCtxPtr delegate_md;           // digest operations: OpenSSL's DigestVerify context
  EvpPkeyCtxPtr delegate_raw;        // sign/verify of a digest: OpenSSL's verify context
  EVP_PKEY_CTX* delegate = nullptr;  // whichever of the two is set up (not owned)

  ~SigCtx() { Release(key); }
};

void* NewCtx(void* provctx, const char* /*propq*/) {
  auto* ctx = new (std::nothrow) SigCtx();
  if (ctx != nullptr) ctx->prov = static_cast<const ProviderCtx*>(provctx);
  return ctx;
}

void FreeCtx(void* vctx) { delete static_cast<SigCtx*>(vctx); }

void* DupCtx(void* vctx) {
  const auto* src = static_cast<const SigCtx*>(vctx);
  auto dst = std::make_unique<SigCtx>();
  dst->prov = src->prov;
  dst->op = src->op;
  if (src->key != nullptr) {
    UpRef(src->key);
    dst->key = src->key;
  }
  if (src->md) {
    if (EVP_MD_up_ref(src->md.get()) != 1) return nullptr;
    dst->md.reset(src->md.get());
  }
  auto copy_md = [](const EvpMdCtxPtr& from, EvpMdCtxPtr& to) {
    if (!from) return true;
    to.reset(EVP_MD_CTX_new());
    return to && EVP_MD_CTX_copy_ex(to.get(), from.get()) == 1;
  };
  if (!copy_md(src->hash, dst->hash) || !copy_md(src->delegate_md, dst->delegate_md))
    return nullptr;
  if (src->delegate_raw) {
    dst->delegate_raw.reset(EVP_PKEY_CTX_dup(src->delegate_raw.get()));
    if (!dst->delegate_raw) return nullptr;
  }
  dst->delegate =
      dst->delegate_md ? EVP_MD_CTX_get_pkey_ctx(dst->delegate_md.get()) : dst->delegate_raw.get();
  return dst.release();
}

bool TakeKey(SigCtx* ctx, void* provkey) {
  auto* key = static_cast<SdKey*>(provkey);
  if (key == nullptr || !key->pub) return false;
  UpRef(key);
  Release(ctx->key);
  ctx->key = key;
  return true;
}

bool GetInt(EVP_PKEY_CTX* ctx, const char* name, int* value) {
  OSSL_PARAM p[] = {OSSL_PARAM_construct_int(name, value), OSSL_PARAM_construct_end()};
  return EVP_PKEY_CTX_get_params(ctx, p) == 1 && OSSL_PARAM_modified(&p[0]) == 1;
}

bool SetInt(EVP_PKEY_CTX* ctx, const char* name, int value) {
  OSSL_PARAM p[] = {OSSL_PARAM_construct_int(name, &value), OSSL_PARAM_construct_end()};
  return EVP_PKEY_CTX_set_params(ctx, p) == 1;
}

std::string GetString(EVP_PKEY_CTX* ctx, const char* name) {
  char buf[64] = {};
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(name, buf, sizeof buf),
                    OSSL_PARAM_construct_end()};
  if (EVP_PKEY_CTX_get_params(ctx, p) != 1 || OSSL_PARAM_modified(&p[0]) != 1) return {};
  return buf;
}

// Reads what the delegate made of the parameters, and keeps it consistent with what the daemon
// signs: an RSA-PSS salt left at OpenSSL's "auto" becomes the digest length (the only salt the
// secure domain uses; TLS 1.3 asks for exactly that), so the AlgorithmIdentifier matches.
bool SyncFromDelegate(SigCtx* ctx) {
  if (ctx->delegate == nullptr) return false;
  if (ctx->key->type != KeyType::kEd25519) {
    const std::string mdname = GetString(ctx->delegate, OSSL_SIGNATURE_PARAM_DIGEST);
    if (!mdname.empty()) {
      EvpMdPtr md(EVP_MD_fetch(ctx->prov->libctx, mdname.c_str(), nullptr));
      if (!md) return false;
      ctx->md = std::move(md);
    }
  }
  if (ctx->key->type == KeyType::kRsa3072 && ctx->op != Op::kVerify &&
      ctx->op != Op::kDigestVerify) {
    int pad = 0, salt = 0;
    if (GetInt(ctx->delegate, OSSL_SIGNATURE_PARAM_PAD_MODE, &pad) &&
        pad == RSA_PKCS1_PSS_PADDING &&
        GetInt(ctx->delegate, OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &salt) &&
        salt == RSA_PSS_SALTLEN_AUTO)
      return SetInt(ctx->delegate, OSSL_SIGNATURE_PARAM_PSS_SALTLEN, RSA_PSS_SALTLEN_DIGEST);
  }
  return true;
}

int SetCtxParams(void* vctx, const OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (params == nullptr || params[0].key == nullptr) return 1;
  if (ctx->delegate == nullptr) return 0;
  if (EVP_PKEY_CTX_set_params(ctx->delegate, params) != 1) return 0;
  return SyncFromDelegate(ctx) ? 1 : 0;
}

int GetCtxParams(void* vctx, OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->delegate == nullptr) return 0;
  return EVP_PKEY_CTX_get_params(ctx->delegate, params);
}

const OSSL_PARAM kSettable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kGettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
    OSSL_PARAM_END};

const OSSL_PARAM* SettableCtxParams(void* vctx, void* /*provctx*/) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx != nullptr && ctx->delegate != nullptr) {
    const OSSL_PARAM* p = EVP_PKEY_CTX_settable_params(ctx->delegate);
    if (p != nullptr) return p;
  }
  return kSettable;
}

const OSSL_PARAM* GettableCtxParams(void* vctx, void* /*provctx*/) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx != nullptr && ctx->delegate != nullptr) {
    const OSSL_PARAM* p = EVP_PKEY_CTX_gettable_params(ctx->delegate);
    if (p != nullptr) return p;
  }
  return kGettable;
}

// Digest-based init (EVP_DigestSign*/EVP_DigestVerify*): the delegate is OpenSSL's DigestVerify.
int DigestInit(SigCtx* ctx, Op op, const char* mdname, void* provkey, const OSSL_PARAM params[]) {
  if (!TakeKey(ctx, provkey)) return 0;
  if (op == Op::kDigestSign && !ctx->key->has_private) {
    RaiseError(ctx->prov, kReasonNoPrivateKey, "this key object has no secure-domain key");
    return 0;
  }
  ctx->op = op;
  ctx->md.reset();
  ctx->hash.reset();
  ctx->delegate_raw.reset();
  const bool ed = ctx->key->type == KeyType::kEd25519;
  if (ed && mdname != nullptr && mdname[0] != '\0') {
    RaiseError(ctx->prov, kReasonUnsupported, "Ed25519 takes no digest");
    return 0;
  }
  const char* md = ed ? nullptr : (mdname != nullptr && mdname[0] != '\0' ? mdname : nullptr);
  if (!ed && md == nullptr) md = ctx->key->type == KeyType::kEcdsaP384 ? "SHA384" : "SHA256";
  ctx->delegate_md.reset(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx->delegate_md ||
      EVP_DigestVerifyInit_ex(ctx->delegate_md.get(), &pctx, md, ctx->prov->libctx, nullptr,
                              ctx->key->pub.get(), nullptr) != 1) {
    RaiseError(ctx->prov, kReasonUnsupported,
               std::string("cannot set up ") + (md ? md : "Ed25519") + " for this key");
    return 0;
  }
  ctx->delegate = pctx;
  if (!SyncFromDelegate(ctx)) return 0;
  if (SetCtxParams(ctx, params) != 1) return 0;
  if (op == Op::kDigestSign && !ed) {
    ctx->hash.reset(EVP_MD_CTX_new());
    if (!ctx->hash || !ctx->md || EVP_DigestInit_ex2(ctx->hash.get(), ctx->md.get(), nullptr) != 1)
      return 0;
  }
  return 1;
}

// Raw init (EVP_PKEY_sign/verify of a digest): the delegate is OpenSSL's verify context.
int RawInit(SigCtx* ctx, Op op, void* provkey, const OSSL_PARAM params[]) {
  if (!TakeKey(ctx, provkey)) return 0;
  if (op == Op::kSign && !ctx->key->has_private) {
    RaiseError(ctx->prov, kReasonNoPrivateKey, "this key object has no secure-domain key");
    return 0;
  }
  if (ctx->key->type == KeyType::kEd25519) {
    RaiseError(ctx->prov, kReasonUnsupported, "Ed25519 signs messages: use EVP_DigestSign");
    return 0;
  }
  ctx->op = op;
  ctx->md.reset();
  ctx->hash.reset();
  ctx->delegate_md.reset();
  ctx->delegate_raw.reset(
      EVP_PKEY_CTX_new_from_pkey(ctx->prov->libctx, ctx->key->pub.get(), nullptr));
  if (!ctx->delegate_raw || EVP_PKEY_verify_init(ctx->delegate_raw.get()) != 1) return 0;
  ctx->delegate = ctx->delegate_raw.get();
  if (!SyncFromDelegate(ctx)) return 0;
  return SetCtxParams(ctx, params);
}

int SignInit(void* c, void* k, const OSSL_PARAM p[]) {
  return RawInit(static_cast<SigCtx*>(c), Op::kSign, k, p);
}
int VerifyInit(void* c, void* k, const OSSL_PARAM p[]) {
  return RawInit(static_cast<SigCtx*>(c), Op::kVerify, k, p);
}
int DigestSignInit(void* c, const char* md, void* k, const OSSL_PARAM p[]) {
  return DigestInit(static_cast<SigCtx*>(c), Op::kDigestSign, md, k, p);
}
int DigestVerifyInit(void* c, const char* md, void* k, const OSSL_PARAM p[]) {
  return DigestInit(static_cast<SigCtx*>(c), Op::kDigestVerify, md, k, p);
}

// The secure domain's algorithm for this context's key, digest and padding.
std::optional<SignAlgorithm> Algorithm(SigCtx* ctx, size_t digest_len) {
  const EVP_MD* md = ctx->md.get();
  auto is = [&](const char* name, size_t len) {
    return md != nullptr ? EVP_MD_is_a(md, name) == 1 : digest_len == len;
  };
  const int which = is("SHA2-256", 32)   ? 256
                    : is("SHA2-384", 48) ? 384
                    : is("SHA2-512", 64) ? 512
                                         : 0;
  switch (ctx->key->type) {
    case KeyType::kEd25519:
      return SignAlgorithm::kEd25519;
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384:
      if (which == 256) return SignAlgorithm::kEcdsaSha256;
      if (which == 384) return SignAlgorithm::kEcdsaSha384;
      if (which == 512) return SignAlgorithm::kEcdsaSha512;
      return std::nullopt;
    case KeyType::kRsa3072: {
      int pad = 0;
      if (!GetInt(ctx->delegate, OSSL_SIGNATURE_PARAM_PAD_MODE, &pad)) return std::nullopt;
      if (pad == RSA_PKCS1_PADDING) {
        if (which == 256) return SignAlgorithm::kRsaPkcs1Sha256;
        if (which == 384) return SignAlgorithm::kRsaPkcs1Sha384;
        if (which == 512) return SignAlgorithm::kRsaPkcs1Sha512;
        return std::nullopt;
      }
      if (pad != RSA_PKCS1_PSS_PADDING) return std::nullopt;
      // The secure domain's PSS: MGF1 with the message digest, salt as long as the digest.
      int salt = 0;
      if (!GetInt(ctx->delegate, OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &salt)) return std::nullopt;
      const size_t dlen = md != nullptr ? static_cast<size_t>(EVP_MD_get_size(md)) : digest_len;
      if (salt != RSA_PSS_SALTLEN_DIGEST && salt != static_cast<int>(dlen)) return std::nullopt;
      const std::string mgf1 = GetString(ctx->delegate, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
      if (!mgf1.empty() && md != nullptr && EVP_MD_is_a(md, mgf1.c_str()) != 1) return std::nullopt;
      if (which == 256) return SignAlgorithm::kRsaPssSha256;
      if (which == 384) return SignAlgorithm::kRsaPssSha384;
      if (which == 512) return SignAlgorithm::kRsaPssSha512;
      return std::nullopt;
    }
    case KeyType::kAes256:
    case KeyType::kHmacSha256:
      break;
  }
  return std::nullopt;
}

size_t MaxSignatureSize(const SigCtx* ctx) {
  int n = EVP_PKEY_get_size(ctx->key->pub.get());
  return n > 0 ? static_cast<size_t>(n) : 0;
}

int Output(SigCtx* ctx, const Result<Bytes>& sig, unsigned char* out, size_t* outlen,
           size_t outsize) {
  if (!sig.ok()) {
    RaiseStatus(ctx->prov, sig.status());
    return 0;
  }
  if (sig->size() > outsize) {
    RaiseError(ctx->prov, kReasonInternal, "signature buffer too small");
    return 0;
  }
  std::memcpy(out, sig->data(), sig->size());
  *outlen = sig->size();
  return 1;
}

int SignDigestWith(SigCtx* ctx, unsigned char* sig, size_t* siglen, size_t sigsize,
                   ByteView digest) {
  auto alg = Algorithm(ctx, digest.size());
  if (!alg) {
    RaiseError(ctx->prov, kReasonUnsupported,
               std::string("the secure domain cannot sign this digest with a ") +
                   std::string(KeyTypeName(ctx->key->type)) +
                   " key (digests: SHA-256/384/512; RSA-PSS salt = digest length, MGF1 with the "
                   "same digest)");
    return 0;
  }
  return Output(ctx, SignDigest(*ctx->key, digest, *alg), sig, siglen, sigsize);
}

int Sign(void* vctx, unsigned char* sig, size_t* siglen, size_t sigsize, const unsigned char* tbs,
         size_t tbslen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kSign) return 0;
  if (sig == nullptr) {
    *siglen = MaxSignatureSize(ctx);
    return 1;
  }
  if (ctx->md && static_cast<size_t>(EVP_MD_get_size(ctx->md.get())) != tbslen) {
    RaiseError(ctx->prov, kReasonUnsupported, "digest length does not match the digest set");
    return 0;
  }
  return SignDigestWith(ctx, sig, siglen, sigsize, ByteView(tbs, tbslen));
}

int Verify(void* vctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
           size_t tbslen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kVerify || !ctx->delegate_raw) return 0;
  return EVP_PKEY_verify(ctx->delegate_raw.get(), sig, siglen, tbs, tbslen);
}

int DigestSignUpdate(void* vctx, const unsigned char* data, size_t len) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kDigestSign || !ctx->hash) {
    RaiseError(ctx->prov, kReasonUnsupported, "Ed25519 signs in one go: use EVP_DigestSign");
    return 0;
  }
  return EVP_DigestUpdate(ctx->hash.get(), data, len);
}

int DigestSignFinal(void* vctx, unsigned char* sig, size_t* siglen, size_t sigsize) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kDigestSign || !ctx->hash) return 0;
  if (sig == nullptr) {
    *siglen = MaxSignatureSize(ctx);
    return 1;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx->hash.get(), digest.data(), &len) != 1) return 0;
  return SignDigestWith(ctx, sig, siglen, sigsize, ByteView(digest.data(), len));
}

int DigestSign(void* vctx, unsigned char* sig, size_t* siglen, size_t sigsize,
               const unsigned char* tbs, size_t tbslen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kDigestSign) return 0;
  if (sig == nullptr) {
    *siglen = MaxSignatureSize(ctx);
    return 1;
  }
  if (ctx->key->type == KeyType::kEd25519) {
    return Output(ctx, SignMessage(*ctx->key, ByteView(tbs, tbslen), SignAlgorithm::kEd25519), sig,
                  siglen, sigsize);
  }
  if (EVP_DigestUpdate(ctx->hash.get(), tbs, tbslen) != 1) return 0;
  return DigestSignFinal(vctx, sig, siglen, sigsize);
}

int DigestVerifyUpdate(void* vctx, const unsigned char* data, size_t len) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kDigestVerify) return 0;
  return EVP_DigestVerifyUpdate(ctx->delegate_md.get(), data, len);
}

int DigestVerifyFinal(void* vctx, const unsigned char* sig, size_t siglen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kDigestVerify) return 0;
  return EVP_DigestVerifyFinal(ctx->delegate_md.get(), sig, siglen);
}

int DigestVerify(void* vctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                 size_t tbslen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (ctx->op != Op::kDigestVerify) return 0;
  return EVP_DigestVerify(ctx->delegate_md.get(), sig, siglen, tbs, tbslen);
}

using Fn = void (*)(void);
const OSSL_DISPATCH kSignatureFunctions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, reinterpret_cast<Fn>(NewCtx)},
    {OSSL_FUNC_SIGNATURE_FREECTX, reinterpret_cast<Fn>(FreeCtx)},
    {OSSL_FUNC_SIGNATURE_DUPCTX, reinterpret_cast<Fn>(DupCtx)},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, reinterpret_cast<Fn>(SignInit)},
    {OSSL_FUNC_SIGNATURE_SIGN, reinterpret_cast<Fn>(Sign)},
    {OSSL_FUNC_SIGNATURE_VERIFY_INIT, reinterpret_cast<Fn>(VerifyInit)},
    {OSSL_FUNC_SIGNATURE_VERIFY, reinterpret_cast<Fn>(Verify)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, reinterpret_cast<Fn>(DigestSignInit)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, reinterpret_cast<Fn>(DigestSignUpdate)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, reinterpret_cast<Fn>(DigestSignFinal)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, reinterpret_cast<Fn>(DigestSign)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, reinterpret_cast<Fn>(DigestVerifyInit)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, reinterpret_cast<Fn>(DigestVerifyUpdate)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, reinterpret_cast<Fn>(DigestVerifyFinal)},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, reinterpret_cast<Fn>(DigestVerify)},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, reinterpret_cast<Fn>(SetCtxParams)},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(SettableCtxParams)},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, reinterpret_cast<Fn>(GetCtxParams)},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(GettableCtxParams)},
    {0, nullptr}};

}  // namespace

const OSSL_ALGORITHM kSignatureAlgorithms[] = {
    {"ECDSA", kProperties, kSignatureFunctions, "edgetrust: ECDSA in the secure domain"},
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProperties, kSignatureFunctions,
     "edgetrust: RSA signatures in the secure domain"},
    {"ED25519:Ed25519:1.3.101.112", kProperties, kSignatureFunctions,
     "edgetrust: Ed25519 in the secure domain"},
    {nullptr, nullptr, nullptr, nullptr}};

}  // namespace edgetrust::provider
