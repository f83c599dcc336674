#include "provider/load_key.h"

#include <openssl/provider.h>
#include <openssl/store.h>

#include <mutex>

#include "provider/key_uri.h"
#include "provider/provider.h"

namespace edgetrust::provider {
namespace {

struct Shared {
  OSSL_LIB_CTX* libctx = nullptr;
  Status status;
};

// Made once and kept for the life of the process: EVP_PKEYs handed out refer to it.
const Shared& SharedState() {
  static const Shared shared = [] {
    Shared s;
    OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
    if (ctx == nullptr) {
      s.status = Status(ErrorCode::kInternal, "OSSL_LIB_CTX_new failed");
      return s;
    }
    // The default provider first: with equal properties OpenSSL picks the first one, and every
    // operation but ours (key generation, ECDHE, hashing) belongs there.
    if (OSSL_PROVIDER_load(ctx, "default") == nullptr ||
        OSSL_PROVIDER_add_builtin(ctx, kProviderName, EdgetrustProviderInit) != 1 ||
        OSSL_PROVIDER_load(ctx, kProviderName) == nullptr) {
      s.status = Status(ErrorCode::kInternal, OpensslError("cannot load the edgetrust provider"));
      OSSL_LIB_CTX_free(ctx);
      return s;
    }
    s.libctx = ctx;
    return s;
  }();
  return shared;
}

}  // namespace

Result<OSSL_LIB_CTX*> SharedLibCtx() {
  const Shared& s = SharedState();
  if (!s.status.ok()) return s.status;
  return s.libctx;
}

Result<EvpPkeyPtr> LoadKey(std::string_view name, std::string_view socket_path) {
  ET_ASSIGN_OR_RETURN(OSSL_LIB_CTX * libctx, SharedLibCtx());
  KeyRef ref{std::string(name), std::string(socket_path)};
  // Validates the name the same way a URI from a user is validated.
  ET_ASSIGN_OR_RETURN(KeyRef checked, ParseKeyUri(FormatKeyUri(ref)));
  const std::string uri = FormatKeyUri(checked);
  ERR_clear_error();
  (void)TakeLastError();
  OSSL_STORE_CTX* store = OSSL_STORE_open_ex(uri.c_str(), libctx, kProperties, nullptr, nullptr,
                                             nullptr, nullptr, nullptr);
  if (store == nullptr) {
    Status why = TakeLastError();
    return why.ok() ? Status(ErrorCode::kInternal, OpensslError("cannot open " + uri)) : why;
  }
  EvpPkeyPtr key;
  while (!key && OSSL_STORE_eof(store) == 0) {
    OSSL_STORE_INFO* info = OSSL_STORE_load(store);
    if (info == nullptr) break;
    if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
      key.reset(OSSL_STORE_INFO_get1_PKEY(info));
    OSSL_STORE_INFO_free(info);
  }
  OSSL_STORE_close(store);
  if (!key) {
    Status why = TakeLastError();
    if (why.ok()) why = Status(ErrorCode::kInternal, OpensslError("no key at " + uri));
    ERR_clear_error();
    return why;
  }
  return key;
}

}  // namespace edgetrust::provider
