// Decoders for the PEM form of a key reference ("-----BEGIN EDGETRUST KEY-----"): programs that
// only read key files (mosquitto's keyfile, nginx's ssl_certificate_key, curl --key) get a
// secure-domain key from PEM_read_bio_PrivateKey once the provider is active in openssl.cnf.
//
// Two stages, as OpenSSL chains decoders by their input and output types:
//  - "DER" from PEM: takes an EDGETRUST KEY block's body (the URI) out of the PEM text and passes
//    it on with the structure "edgetrust-uri"; any other PEM is left to OpenSSL's own decoders.
//  - "EC", "RSA", "ED25519" from DER of that structure: open the key and hand it over if it is of
//    their type. OpenSSL's file store reaches the second stage too, through its own DER step.
#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>

#include <string>

#include "provider/key_object.h"
#include "provider/key_uri.h"
#include "provider/provider.h"
#include "provider/sd_key.h"

namespace edgetrust::provider {
namespace {

// A reference is a few hundred bytes; anything much longer is some other PEM file.
constexpr size_t kMaxInput = 64 * 1024;

struct DecoderCtx {
  const ProviderCtx* prov = nullptr;
};

void* NewCtx(void* provctx) {
  auto* ctx = new (std::nothrow) DecoderCtx();
  if (ctx != nullptr) ctx->prov = static_cast<const ProviderCtx*>(provctx);
  return ctx;
}

void FreeCtx(void* vctx) { delete static_cast<DecoderCtx*>(vctx); }

constexpr char kStructure[] = "edgetrust-uri";

// Reads the whole input (at most kMaxInput); false if it is longer or unreadable.
bool ReadInput(const ProviderCtx* prov, OSSL_CORE_BIO* cin, std::string& text) {
  BioPtr bio(BIO_new_from_core_bio(prov->libctx, cin));
  if (!bio) return false;
  char buf[4096];
  for (;;) {
    int n = BIO_read(bio.get(), buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxInput) return false;
  }
  return true;
}

int DecodePem(void* vctx, OSSL_CORE_BIO* cin, int /*selection*/, OSSL_CALLBACK* object_cb,
              void* object_cbarg, OSSL_PASSPHRASE_CALLBACK* /*pw_cb*/, void* /*pw_cbarg*/) {
  auto* ctx = static_cast<DecoderCtx*>(vctx);
  std::string text;
  if (!ReadInput(ctx->prov, cin, text)) return 1;
  if (text.find(std::string("-----BEGIN ") + std::string(kPemLabel) + "-----") == std::string::npos)
    return 1;  // not ours: OpenSSL's own decoders carry on
  auto ref = ParseKeyPem(text);
  if (!ref.ok()) {
    RaiseError(ctx->prov, kReasonBadUri, ref.status().message());
    return 0;  // it is ours, and broken: say so rather than let OpenSSL report "unsupported"
  }
  // Ask the daemon now: a missing key or an unreachable daemon is reported here, where OpenSSL
  // keeps the error, instead of in the next stage, whose failure it replaces by "unsupported".
  auto key = OpenSdKey(ctx->prov, *ref);
  if (!key.ok()) {
    RaiseStatus(ctx->prov, key.status());
    return 0;
  }
  // The key's type goes along, so OpenSSL hands the reference only to the decoder of that type
  // instead of to all three, each of which would ask the daemon again.
  const char* type = OsslTypeName((*key)->type);
  Release(*key);
  std::string body = FormatKeyUri(*ref);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, body.data(), body.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                                       const_cast<char*>(kStructure), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, const_cast<char*>(type), 0),
      OSSL_PARAM_construct_end()};
  return object_cb(params, object_cbarg);
}

int Decode(const char* want_type, void* vctx, OSSL_CORE_BIO* cin, int /*selection*/,
           OSSL_CALLBACK* object_cb, void* object_cbarg, OSSL_PASSPHRASE_CALLBACK* /*pw_cb*/,
           void* /*pw_cbarg*/) {
  auto* ctx = static_cast<DecoderCtx*>(vctx);
  std::string text;
  if (!ReadInput(ctx->prov, cin, text)) return 1;
  auto ref = ParseKeyPemBody(text);
  if (!ref.ok()) return 1;  // DER of some other structure: not ours
  auto key = OpenSdKey(ctx->prov, std::move(ref).value());
  if (!key.ok()) {
    RaiseStatus(ctx->prov, key.status());
    return 0;
  }
  int ok = 1;
  if (std::string_view(OsslTypeName((*key)->type)) == want_type)
    ok = PassKeyObject(*key, object_cb, object_cbarg);
  Release(*key);
  return ok;
}

int DecodeEc(void* c, OSSL_CORE_BIO* in, int s, OSSL_CALLBACK* cb, void* arg,
             OSSL_PASSPHRASE_CALLBACK* pw, void* pwarg) {
  return Decode("EC", c, in, s, cb, arg, pw, pwarg);
}
int DecodeRsa(void* c, OSSL_CORE_BIO* in, int s, OSSL_CALLBACK* cb, void* arg,
              OSSL_PASSPHRASE_CALLBACK* pw, void* pwarg) {
  return Decode("RSA", c, in, s, cb, arg, pw, pwarg);
}
int DecodeEd25519(void* c, OSSL_CORE_BIO* in, int s, OSSL_CALLBACK* cb, void* arg,
                  OSSL_PASSPHRASE_CALLBACK* pw, void* pwarg) {
  return Decode("ED25519", c, in, s, cb, arg, pw, pwarg);
}

using Fn = void (*)(void);
#define ET_DECODER_TABLE(NAME, DECODE)                                                      \
  const OSSL_DISPATCH NAME[] = {{OSSL_FUNC_DECODER_NEWCTX, reinterpret_cast<Fn>(NewCtx)},   \
                                {OSSL_FUNC_DECODER_FREECTX, reinterpret_cast<Fn>(FreeCtx)}, \
                                {OSSL_FUNC_DECODER_DECODE, reinterpret_cast<Fn>(DECODE)},   \
                                {0, nullptr}}
ET_DECODER_TABLE(kPemDecoder, DecodePem);
ET_DECODER_TABLE(kEcDecoder, DecodeEc);
ET_DECODER_TABLE(kRsaDecoder, DecodeRsa);
ET_DECODER_TABLE(kEd25519Decoder, DecodeEd25519);
#undef ET_DECODER_TABLE

}  // namespace

#define ET_DER_PROPS "provider=edgetrust,input=der,structure=edgetrust-uri"
const OSSL_ALGORITHM kDecoderAlgorithms[] = {
    {"DER", "provider=edgetrust,input=pem", kPemDecoder,
     "edgetrust: EDGETRUST KEY PEM blocks to key references"},
    {"EC:id-ecPublicKey", ET_DER_PROPS, kEcDecoder, "edgetrust: references to EC keys"},
    {"RSA:rsaEncryption", ET_DER_PROPS, kRsaDecoder, "edgetrust: references to RSA keys"},
    {"ED25519", ET_DER_PROPS, kEd25519Decoder, "edgetrust: references to Ed25519 keys"},
    {nullptr, nullptr, nullptr, nullptr}};
#undef ET_DER_PROPS

}  // namespace edgetrust::provider
