// Handing a secure-domain key object to OpenSSL from the store and the decoder: the object
// parameters that make OpenSSL's EVP_PKEY out of an SdKey through our key management's load().
#pragma once

#include <openssl/core.h>

#include "provider/sd_key.h"

namespace edgetrust::provider {

// Calls `cb` with a PKEY object referencing `key`. When OpenSSL loads it, our key management's
// load() takes a reference of its own; the caller keeps (and later releases) its reference.
int PassKeyObject(SdKey* key, OSSL_CALLBACK* cb, void* cbarg);

}  // namespace edgetrust::provider
