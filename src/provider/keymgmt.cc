// Key management for secure-domain keys: "EC", "RSA" and "ED25519" key objects (SdKey).
//
// Public parts are served from the key's in-process public key. Private parts never leave the
// secure domain, so exporting a key with its private part fails: OpenSSL then runs the private
// operation with this provider's signature code instead of copying the key to another provider.
// Importing takes public keys only (OpenSSL imports a certificate's key here to compare it with
// ours); a private key offered for import is refused, as keys are created in the secure domain.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>

#include "provider/provider.h"
#include "provider/sd_key.h"

namespace edgetrust::provider {
namespace {

constexpr int kPublicSelection =
    OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS;

void* New(void* provctx) { return NewEmptyKey(static_cast<const ProviderCtx*>(provctx)); }

void Free(void* keydata) { Release(static_cast<SdKey*>(keydata)); }

int Has(const void* keydata, int selection) {
  const auto* key = static_cast<const SdKey*>(keydata);
  if (key == nullptr) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0 && !key->pub) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && !key->has_private) return 0;
  return 1;
}

int Match(const void* a, const void* b, int selection) {
  const auto* ka = static_cast<const SdKey*>(a);
  const auto* kb = static_cast<const SdKey*>(b);
  if (ka == nullptr || kb == nullptr || !ka->pub || !kb->pub) return 0;
  // Both sides' public keys are ordinary keys of the same context: let OpenSSL compare them.
  if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0)
    return EVP_PKEY_eq(ka->pub.get(), kb->pub.get()) == 1 ? 1 : 0;
  if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0)
    return EVP_PKEY_parameters_eq(ka->pub.get(), kb->pub.get()) == 1 ? 1 : 0;
  return 1;
}

bool HasPrivateParam(const OSSL_PARAM params[]) {
  for (const char* name : {OSSL_PKEY_PARAM_PRIV_KEY, OSSL_PKEY_PARAM_RSA_D,
                           OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_EXPONENT1}) {
    if (OSSL_PARAM_locate_const(params, name) != nullptr) return true;
  }
  return false;
}

int Import(void* keydata, int selection, const OSSL_PARAM params[], const char* type_name) {
  auto* key = static_cast<SdKey*>(keydata);
  if (key == nullptr || key->pub) return 0;  // our key objects are immutable once filled
  if (HasPrivateParam(params)) {
    RaiseError(key->prov, kReasonUnsupported,
               "private keys cannot be imported: create the key in the secure domain");
    return 0;
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(key->prov->libctx, type_name, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, selection & kPublicSelection,
                        const_cast<OSSL_PARAM*>(params)) != 1) {
    return 0;
  }
  key->pub.reset(pkey);
  auto type = KeyTypeOf(pkey);
  if (type) key->type = *type;
  key->has_private = false;
  return 1;
}

int ImportEc(void* k, int s, const OSSL_PARAM p[]) { return Import(k, s, p, "EC"); }
int ImportRsa(void* k, int s, const OSSL_PARAM p[]) { return Import(k, s, p, "RSA"); }
int ImportEd25519(void* k, int s, const OSSL_PARAM p[]) { return Import(k, s, p, "ED25519"); }

int Export(void* keydata, int selection, OSSL_CALLBACK* cb, void* cbarg) {
  auto* key = static_cast<SdKey*>(keydata);
  if (key == nullptr || !key->pub) return 0;
  // Exporting "everything" of a secure-domain key would hand OpenSSL a public key posing as the
  // key pair; failing here makes it use our signature implementation instead.
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && key->has_private) return 0;
  return EVP_PKEY_export(key->pub.get(), selection & kPublicSelection, cb, cbarg);
}

const OSSL_PARAM kEcTypes[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0), OSSL_PARAM_END};
const OSSL_PARAM kRsaTypes[] = {OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0), OSSL_PARAM_END};
const OSSL_PARAM kEd25519Types[] = {OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
                                    OSSL_PARAM_END};

const OSSL_PARAM* EcTypes(int selection) {
  return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ? nullptr : kEcTypes;
}
const OSSL_PARAM* RsaTypes(int selection) {
  return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ? nullptr : kRsaTypes;
}
const OSSL_PARAM* Ed25519Types(int selection) {
  return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ? nullptr : kEd25519Types;
}

int GetParams(void* keydata, OSSL_PARAM params[]) {
  auto* key = static_cast<SdKey*>(keydata);
  if (key == nullptr || !key->pub) return 0;
  return EVP_PKEY_get_params(key->pub.get(), params);
}

const OSSL_PARAM kEcGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kRsaGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kEd25519Gettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
    OSSL_PARAM_END};

const OSSL_PARAM* EcGettable(void*) { return kEcGettable; }
const OSSL_PARAM* RsaGettable(void*) { return kRsaGettable; }
const OSSL_PARAM* Ed25519Gettable(void*) { return kEd25519Gettable; }

// The store and the decoder pass a key object by reference (the pointer's bytes, see
// key_object.h); the EVP_PKEY made from it gets a reference of its own.
void* Load(const void* reference, size_t reference_size) {
  if (reference == nullptr || reference_size != sizeof(SdKey*)) return nullptr;
  SdKey* key = nullptr;
  std::memcpy(&key, reference, sizeof key);
  if (key == nullptr) return nullptr;
  UpRef(key);
  return key;
}

void* Dup(const void* from, int selection) {
  const auto* src = static_cast<const SdKey*>(from);
  if (src == nullptr) return nullptr;
  SdKey* key = NewEmptyKey(src->prov);
  if (key == nullptr) return nullptr;
  key->ref = src->ref;
  key->type = src->type;
  if (src->pub && EVP_PKEY_up_ref(src->pub.get()) == 1) key->pub.reset(src->pub.get());
  key->has_private = src->has_private && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
  return key;
}

const char* EcOperation(int operation_id) {
  return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : nullptr;
}
const char* RsaOperation(int operation_id) {
  return operation_id == OSSL_OP_SIGNATURE ? "RSA" : nullptr;
}
const char* Ed25519Operation(int operation_id) {
  return operation_id == OSSL_OP_SIGNATURE ? "ED25519" : nullptr;
}

using Fn = void (*)(void);
#define ET_KEYMGMT_TABLE(NAME, IMPORT, TYPES, GETTABLE, OPERATION)               \
  const OSSL_DISPATCH NAME[] = {                                                 \
      {OSSL_FUNC_KEYMGMT_NEW, reinterpret_cast<Fn>(New)},                        \
      {OSSL_FUNC_KEYMGMT_FREE, reinterpret_cast<Fn>(Free)},                      \
      {OSSL_FUNC_KEYMGMT_LOAD, reinterpret_cast<Fn>(Load)},                      \
      {OSSL_FUNC_KEYMGMT_DUP, reinterpret_cast<Fn>(Dup)},                        \
      {OSSL_FUNC_KEYMGMT_HAS, reinterpret_cast<Fn>(Has)},                        \
      {OSSL_FUNC_KEYMGMT_MATCH, reinterpret_cast<Fn>(Match)},                    \
      {OSSL_FUNC_KEYMGMT_IMPORT, reinterpret_cast<Fn>(IMPORT)},                  \
      {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, reinterpret_cast<Fn>(TYPES)},             \
      {OSSL_FUNC_KEYMGMT_EXPORT, reinterpret_cast<Fn>(Export)},                  \
      {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, reinterpret_cast<Fn>(TYPES)},             \
      {OSSL_FUNC_KEYMGMT_GET_PARAMS, reinterpret_cast<Fn>(GetParams)},           \
      {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, reinterpret_cast<Fn>(GETTABLE)},       \
      {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, reinterpret_cast<Fn>(OPERATION)}, \
      {0, nullptr}}

ET_KEYMGMT_TABLE(kEcKeymgmt, ImportEc, EcTypes, EcGettable, EcOperation);
ET_KEYMGMT_TABLE(kRsaKeymgmt, ImportRsa, RsaTypes, RsaGettable, RsaOperation);
ET_KEYMGMT_TABLE(kEd25519Keymgmt, ImportEd25519, Ed25519Types, Ed25519Gettable, Ed25519Operation);
#undef ET_KEYMGMT_TABLE

}  // namespace

// The names are OpenSSL's own, so that libssl and the X.509 code recognise our keys as what they
// are (EVP_PKEY_is_a(key, "EC")); the property tells them apart from the default provider's.
const OSSL_ALGORITHM kKeymgmtAlgorithms[] = {
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", kProperties, kEcKeymgmt,
     "edgetrust: EC keys in the secure domain"},
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProperties, kRsaKeymgmt,
     "edgetrust: RSA keys in the secure domain"},
    {"ED25519:1.3.101.112", kProperties, kEd25519Keymgmt,
     "edgetrust: Ed25519 keys in the secure domain"},
    {nullptr, nullptr, nullptr, nullptr}};

}  // namespace edgetrust::provider
