#include "provider/key_object.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

namespace edgetrust::provider {

int PassKeyObject(SdKey* key, OSSL_CALLBACK* cb, void* cbarg) {
  int type = OSSL_OBJECT_PKEY;
  SdKey* ref = key;  // our key management's load() takes its own reference from this pointer
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
      OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
                                       const_cast<char*>(OsslTypeName(key->type)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref, sizeof ref),
      OSSL_PARAM_construct_end()};
  return cb(params, cbarg);
}

}  // namespace edgetrust::provider
