// The OSSL_STORE loader for "edgetrust:NAME[?socket=PATH]" URIs: one private key per URI
// (openssl pkey -in edgetrust:NAME, openssl s_server -key edgetrust:NAME, OSSL_STORE_open).
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include <memory>

#include "provider/key_object.h"
#include "provider/key_uri.h"
#include "provider/provider.h"
#include "provider/sd_key.h"

namespace edgetrust::provider {
namespace {

struct StoreCtx {
  const ProviderCtx* prov = nullptr;
  KeyRef ref;
  int expect = 0;  // OSSL_STORE_INFO_* the caller asked for; 0: anything
  bool done = false;
};

void* Open(void* provctx, const char* uri) {
  auto* prov = static_cast<const ProviderCtx*>(provctx);
  // OSSL_STORE offers every URI to every loader whose scheme matches; ours is "edgetrust".
  auto ref = ParseKeyUri(uri != nullptr ? uri : "");
  if (!ref.ok()) {
    RaiseError(prov, kReasonBadUri, ref.status().message());
    return nullptr;
  }
  auto* ctx = new (std::nothrow) StoreCtx();
  if (ctx == nullptr) return nullptr;
  ctx->prov = prov;
  ctx->ref = std::move(ref).value();
  return ctx;
}

const OSSL_PARAM kSettable[] = {OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, nullptr), OSSL_PARAM_END};

const OSSL_PARAM* SettableCtxParams(void* /*provctx*/) { return kSettable; }

int SetCtxParams(void* vctx, const OSSL_PARAM params[]) {
  auto* ctx = static_cast<StoreCtx*>(vctx);
  const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
  if (p != nullptr && OSSL_PARAM_get_int(p, &ctx->expect) != 1) return 0;
  return 1;  // other criteria (subject, serial, ...) do not narrow a one-key URI
}

int Load(void* vctx, OSSL_CALLBACK* object_cb, void* object_cbarg,
         OSSL_PASSPHRASE_CALLBACK* /*pw_cb*/, void* /*pw_cbarg*/) {
  auto* ctx = static_cast<StoreCtx*>(vctx);
  if (ctx->done) return 0;
  ctx->done = true;
  // The URI names a key pair: there is nothing to give a caller that wants a certificate.
  if (ctx->expect != 0 && ctx->expect != OSSL_STORE_INFO_PKEY &&
      ctx->expect != OSSL_STORE_INFO_PUBKEY)
    return 0;
  auto key = OpenSdKey(ctx->prov, ctx->ref);
  if (!key.ok()) {
    RaiseStatus(ctx->prov, key.status());
    return 0;
  }
  int ok = PassKeyObject(*key, object_cb, object_cbarg);
  Release(*key);
  return ok;
}

int Eof(void* vctx) { return static_cast<StoreCtx*>(vctx)->done ? 1 : 0; }

int Close(void* vctx) {
  delete static_cast<StoreCtx*>(vctx);
  return 1;
}

using Fn = void (*)(void);
const OSSL_DISPATCH kStoreFunctions[] = {
    {OSSL_FUNC_STORE_OPEN, reinterpret_cast<Fn>(Open)},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(SettableCtxParams)},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, reinterpret_cast<Fn>(SetCtxParams)},
    {OSSL_FUNC_STORE_LOAD, reinterpret_cast<Fn>(Load)},
    {OSSL_FUNC_STORE_EOF, reinterpret_cast<Fn>(Eof)},
    {OSSL_FUNC_STORE_CLOSE, reinterpret_cast<Fn>(Close)},
    {0, nullptr}};

}  // namespace

const OSSL_ALGORITHM kStoreAlgorithms[] = {
    {"edgetrust", kProperties, kStoreFunctions, "edgetrust: keys of the secure domain by URI"},
    {nullptr, nullptr, nullptr, nullptr}};

}  // namespace edgetrust::provider
