// Encoders for secure-domain keys: asked to write a private key (openssl pkey -out,
// PEM_write_PrivateKey), they write its EDGETRUST KEY reference, the only form in which such a
// key can leave the process. Reading that file back through our decoders gives the same key.
#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>

#include <string>

#include "provider/key_uri.h"
#include "provider/provider.h"
#include "provider/sd_key.h"

namespace edgetrust::provider {
namespace {

struct EncoderCtx {
  const ProviderCtx* prov = nullptr;
};

void* NewCtx(void* provctx) {
  auto* ctx = new (std::nothrow) EncoderCtx();
  if (ctx != nullptr) ctx->prov = static_cast<const ProviderCtx*>(provctx);
  return ctx;
}

void FreeCtx(void* vctx) { delete static_cast<EncoderCtx*>(vctx); }

// Only private-key output is ours; public keys and parameters go to OpenSSL's own encoders.
int DoesSelection(void* /*provctx*/, int selection) {
  return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ? 1 : 0;
}

int Encode(void* vctx, OSSL_CORE_BIO* cout, const void* obj_raw,
           const OSSL_PARAM /*obj_abstract*/[], int selection, OSSL_PASSPHRASE_CALLBACK* /*cb*/,
           void* /*cbarg*/) {
  auto* ctx = static_cast<EncoderCtx*>(vctx);
  const auto* key = static_cast<const SdKey*>(obj_raw);
  if (key == nullptr || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0) return 0;
  if (!key->has_private) {
    RaiseError(ctx->prov, kReasonNoPrivateKey, "this key object has no secure-domain key");
    return 0;
  }
  const std::string pem = FormatKeyPem(key->ref);
  BioPtr out(BIO_new_from_core_bio(ctx->prov->libctx, cout));
  if (!out) return 0;
  return BIO_write(out.get(), pem.data(), static_cast<int>(pem.size())) ==
                 static_cast<int>(pem.size())
             ? 1
             : 0;
}

using Fn = void (*)(void);
const OSSL_DISPATCH kEncoderFunctions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, reinterpret_cast<Fn>(NewCtx)},
    {OSSL_FUNC_ENCODER_FREECTX, reinterpret_cast<Fn>(FreeCtx)},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, reinterpret_cast<Fn>(DoesSelection)},
    {OSSL_FUNC_ENCODER_ENCODE, reinterpret_cast<Fn>(Encode)},
    {0, nullptr}};

}  // namespace

#define ET_ENCODER_PROPS "provider=edgetrust,output=pem,structure=PrivateKeyInfo"
const OSSL_ALGORITHM kEncoderAlgorithms[] = {
    {"EC:id-ecPublicKey", ET_ENCODER_PROPS, kEncoderFunctions,
     "edgetrust: EC keys as EDGETRUST KEY references"},
    {"RSA:rsaEncryption", ET_ENCODER_PROPS, kEncoderFunctions,
     "edgetrust: RSA keys as EDGETRUST KEY references"},
    {"ED25519", ET_ENCODER_PROPS, kEncoderFunctions,
     "edgetrust: Ed25519 keys as EDGETRUST KEY references"},
    {nullptr, nullptr, nullptr, nullptr}};
#undef ET_ENCODER_PROPS

}  // namespace edgetrust::provider
