// The loadable module edgetrust.so: OpenSSL looks up OSSL_provider_init in it. The only symbol
// the module exports (the rest is hidden, see CMakeLists.txt).
#include <openssl/core.h>

#include "provider/provider.h"

extern "C" __attribute__((visibility("default"))) int OSSL_provider_init(
    const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in, const OSSL_DISPATCH** out,
    void** provctx) {
  return edgetrust::provider::EdgetrustProviderInit(handle, in, out, provctx);
}
