#include "edgetrust/secret.h"

#include <openssl/crypto.h>

namespace edgetrust {

void SecureWipe(void* data, size_t size) { OPENSSL_cleanse(data, size); }

}  // namespace edgetrust
