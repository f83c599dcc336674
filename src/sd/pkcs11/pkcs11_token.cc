#include "sd/pkcs11/pkcs11_token.h"

#include <algorithm>
#include <thread>

#include "sd/pkcs11/pkcs11_encoding.h"
#include "sd/pkcs11/pkcs11_errors.h"
#include "sd/pkcs11/pkcs11_template.h"

namespace edgetrust::sd::pkcs11 {
namespace {

constexpr uint8_t kRsaExponent[] = {0x01, 0x00, 0x01};

// Only the usage the key type needs; tokens default others to true (SoftHSM2: decrypt, unwrap).
void SecretUsage(Template& t, KeyType type) {
  const bool aes = type == KeyType::kAes256;
  t.Bool(CKA_ENCRYPT, aes)
      .Bool(CKA_DECRYPT, aes)
      .Bool(CKA_SIGN, !aes)
      .Bool(CKA_VERIFY, !aes)
      .Bool(CKA_WRAP, false)
      .Bool(CKA_UNWRAP, false)
      .Bool(CKA_DERIVE, false);
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

Result<std::unique_ptr<Token>> Token::Open(const std::string& module_path, const std::string& label,
                                           SecretBytes pin) {
  ET_ASSIGN_OR_RETURN(std::shared_ptr<Module> module, Module::Load(module_path));
  // Twice the hardware threads, at least 4: enough that connection threads never queue for a
  // session while the token has capacity.
  const size_t size = std::max<size_t>(4, 2 * std::max(1u, std::thread::hardware_concurrency()));
  std::unique_ptr<Token> token(new Token());
  ET_ASSIGN_OR_RETURN(token->pool_, SessionPool::Open(module, label, std::move(pin), size));
  const CK_SLOT_ID slot = token->pool_->slot();
  CK_FUNCTION_LIST* fn = module->fn();

  CK_TOKEN_INFO ti{};
  if (CK_RV rv = fn->C_GetTokenInfo(slot, &ti); rv != CKR_OK)
    return CkrStatus("C_GetTokenInfo", rv);
  TokenInfo& info = token->info_;
  info.label = Trimmed(ti.label, sizeof ti.label);
  info.manufacturer = Trimmed(ti.manufacturerID, sizeof ti.manufacturerID);
  info.model = Trimmed(ti.model, sizeof ti.model);
  info.serial = Trimmed(ti.serialNumber, sizeof ti.serialNumber);
  info.library = module_path + " (" + module->description() + ")";
  info.software = Contains(info.manufacturer, "SoftHSM") || Contains(info.model, "SoftHSM") ||
                  Contains(module->description(), "SoftHSM");

  CK_ULONG count = 0;
  if (CK_RV rv = fn->C_GetMechanismList(slot, nullptr, &count); rv != CKR_OK)
    return CkrStatus("C_GetMechanismList", rv);
  std::vector<CK_MECHANISM_TYPE> mechs(count);
  if (count > 0) {
    if (CK_RV rv = fn->C_GetMechanismList(slot, mechs.data(), &count); rv != CKR_OK)
      return CkrStatus("C_GetMechanismList", rv);
    mechs.resize(count);
  }
  token->mechanisms_.insert(mechs.begin(), mechs.end());
  return token;
}

std::string Token::Missing(KeyType type) const {
  std::vector<std::pair<CK_MECHANISM_TYPE, const char*>> need;
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384:
      need = {{CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"}, {CKM_ECDSA, "CKM_ECDSA"}};
      break;
    case KeyType::kEd25519:
      need = {{CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN"},
              {CKM_EDDSA, "CKM_EDDSA"}};
      break;
    case KeyType::kRsa3072:
      need = {{CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN"},
              {CKM_RSA_PKCS, "CKM_RSA_PKCS"},
              {CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS"}};
      break;
    case KeyType::kAes256:
      need = {{CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN"}, {CKM_AES_GCM, "CKM_AES_GCM"}};
      break;
    case KeyType::kHmacSha256:
      need = {{CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN"},
              {CKM_SHA256_HMAC, "CKM_SHA256_HMAC"}};
      break;
  }
  std::string missing;
  for (const auto& [mech, name] : need) {
    if (Has(mech)) continue;
    if (!missing.empty()) missing += ", ";
    missing += name;
  }
  return missing;
}

Result<ObjectHandles> Token::Generate(Session& s, KeyType type, ByteView id,
                                      const std::string& label) {
  if (std::string missing = Missing(type); !missing.empty()) {
    return Status(ErrorCode::kUnsupported, "token \"" + info_.label + "\" cannot hold " +
                                               std::string(KeyTypeName(type)) + " keys (no " +
                                               missing + ")");
  }
  ObjectHandles out;
  if (!IsAsymmetric(type)) {
    Template t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CkKeyType(type))
        .Protected(/*on_token=*/true)
        .Ulong(CKA_VALUE_LEN, 32)
        .Data(CKA_ID, id)
        .Text(CKA_LABEL, label);
    CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
    if (type != KeyType::kAes256) m.mechanism = CKM_GENERIC_SECRET_KEY_GEN;
    SecretUsage(t, type);
    ET_RETURN_IF_ERROR(s.Check(s.fn()->C_GenerateKey(s.handle(), &m, t.data(), t.size(), &out.key),
                               "C_GenerateKey"));
    return out;
  }

  auto generate = [&](ByteView params) -> CK_RV {
    Template pub;
    pub.Ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_VERIFY, true)
        .Bool(CKA_ENCRYPT, false)
        .Bool(CKA_WRAP, false)
        .Bool(CKA_DERIVE, false)
        .Data(CKA_ID, id)
        .Text(CKA_LABEL, label);
    Template priv;
    priv.Ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .Protected(/*on_token=*/true)
        .Bool(CKA_SIGN, true)
        .Bool(CKA_DECRYPT, false)
        .Bool(CKA_UNWRAP, false)
        // P-256 keys also do ECDH (Backend::Ecdh).
        .Bool(CKA_DERIVE, type == KeyType::kEcdsaP256)
        .Data(CKA_ID, id)
        .Text(CKA_LABEL, label);
    CK_MECHANISM m{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    if (type == KeyType::kRsa3072) {
      m.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
      pub.Ulong(CKA_MODULUS_BITS, 3072).Data(CKA_PUBLIC_EXPONENT, kRsaExponent);
    } else {
      if (type == KeyType::kEd25519) m.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
      pub.Data(CKA_EC_PARAMS, params);
    }
    return s.fn()->C_GenerateKeyPair(s.handle(), &m, pub.data(), pub.size(), priv.data(),
                                     priv.size(), &out.pub, &out.key);
  };
  CK_RV rv = generate(CurveParams(type));
  // Tokens differ in how they want Edwards curves named: the OID (RFC 8410) or, per PKCS#11
  // 3.0, the printable string "edwards25519".
  if (type == KeyType::kEd25519 &&
      (rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_CURVE_NOT_SUPPORTED ||
       rv == CKR_DOMAIN_PARAMS_INVALID || rv == CKR_TEMPLATE_INCONSISTENT)) {
    rv = generate(Ed25519ParamsByName());
  }
  ET_RETURN_IF_ERROR(s.Check(rv, "C_GenerateKeyPair"));
  return out;
}

Result<CK_OBJECT_HANDLE> Token::ImportSecret(Session& s, KeyType type, const SecretBytes& value,
                                             ByteView id, const std::string& label) {
  if (IsAsymmetric(type))
    return Status(ErrorCode::kUnsupported, "derived keys are aes-256 or hmac-sha256 keys");
  if (std::string missing = Missing(type); !missing.empty()) {
    return Status(ErrorCode::kUnsupported, "token \"" + info_.label + "\" cannot hold " +
                                               std::string(KeyTypeName(type)) + " keys (no " +
                                               missing + ")");
  }
  Template t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CkKeyType(type))
      .Protected(/*on_token=*/true)
      .Data(CKA_VALUE, value.view())
      .Data(CKA_ID, id)
      .Text(CKA_LABEL, label);
  SecretUsage(t, type);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  ET_RETURN_IF_ERROR(
      s.Check(s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h), "C_CreateObject"));
  return h;
}

Result<std::vector<CK_OBJECT_HANDLE>> Token::Find(Session& s, CK_OBJECT_CLASS cls, ByteView id) {
  Template t;
  t.Ulong(CKA_CLASS, cls).Bool(CKA_TOKEN, true).Data(CKA_ID, id);
  ET_RETURN_IF_ERROR(
      s.Check(s.fn()->C_FindObjectsInit(s.handle(), t.data(), t.size()), "C_FindObjectsInit"));
  std::vector<CK_OBJECT_HANDLE> found(4);
  CK_ULONG count = 0;
  CK_RV rv = s.fn()->C_FindObjects(s.handle(), found.data(), found.size(), &count);
  CK_RV final_rv = s.fn()->C_FindObjectsFinal(s.handle());
  ET_RETURN_IF_ERROR(s.Check(rv, "C_FindObjects"));
  ET_RETURN_IF_ERROR(s.Check(final_rv, "C_FindObjectsFinal"));
  found.resize(count);
  if (found.empty() && !s.TokenPresent()) {
    s.MarkLost();
    return Status(ErrorCode::kUnavailable, "token \"" + info_.label + "\" is not present");
  }
  return found;
}

Result<std::set<Bytes>> Token::KeyIds(Session& s) {
  Template t;
  t.Bool(CKA_TOKEN, true);
  ET_RETURN_IF_ERROR(
      s.Check(s.fn()->C_FindObjectsInit(s.handle(), t.data(), t.size()), "C_FindObjectsInit"));
  std::vector<CK_OBJECT_HANDLE> all;
  CK_RV rv = CKR_OK;
  for (;;) {
    CK_OBJECT_HANDLE batch[64];
    CK_ULONG count = 0;
    rv = s.fn()->C_FindObjects(s.handle(), batch, 64, &count);
    if (rv != CKR_OK || count == 0) break;
    all.insert(all.end(), batch, batch + count);
  }
  CK_RV final_rv = s.fn()->C_FindObjectsFinal(s.handle());
  ET_RETURN_IF_ERROR(s.Check(rv, "C_FindObjects"));
  ET_RETURN_IF_ERROR(s.Check(final_rv, "C_FindObjectsFinal"));
  if (all.empty() && !s.TokenPresent()) {
    s.MarkLost();
    return Status(ErrorCode::kUnavailable, "token \"" + info_.label + "\" is not present");
  }
  std::set<Bytes> ids;
  for (CK_OBJECT_HANDLE h : all) {
    CK_OBJECT_CLASS cls = 0;
    CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, nullptr, 0}};
    if (s.fn()->C_GetAttributeValue(s.handle(), h, a, 2) != CKR_OK) continue;
    if (cls != CKO_PRIVATE_KEY && cls != CKO_SECRET_KEY) continue;
    if (a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION || a[1].ulValueLen > 256) continue;
    Bytes id(a[1].ulValueLen);
    a[1].pValue = id.data();
    if (s.fn()->C_GetAttributeValue(s.handle(), h, &a[1], 1) != CKR_OK) continue;
    ids.insert(std::move(id));
  }
  return ids;
}

Status Token::Destroy(Session& s, CK_OBJECT_HANDLE object) {
  return s.Check(s.fn()->C_DestroyObject(s.handle(), object), "C_DestroyObject");
}

Status Token::DestroyAll(Session& s, ByteView id) {
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY}) {
    ET_ASSIGN_OR_RETURN(auto found, Find(s, cls, id));
    for (CK_OBJECT_HANDLE h : found) ET_RETURN_IF_ERROR(Destroy(s, h));
  }
  return Status::Ok();
}

Result<Bytes> Token::Attribute(Session& s, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  ET_RETURN_IF_ERROR(
      s.Check(s.fn()->C_GetAttributeValue(s.handle(), object, &a, 1), "C_GetAttributeValue"));
  if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 4096)
    return Status(ErrorCode::kInternal, "C_GetAttributeValue: attribute unavailable");
  Bytes value(a.ulValueLen);
  a.pValue = value.data();
  ET_RETURN_IF_ERROR(
      s.Check(s.fn()->C_GetAttributeValue(s.handle(), object, &a, 1), "C_GetAttributeValue"));
  value.resize(a.ulValueLen);
  return value;
}

Result<CK_KEY_TYPE> Token::KeyTypeOf(Session& s, CK_OBJECT_HANDLE object) {
  CK_KEY_TYPE kt = 0;
  CK_ATTRIBUTE a{CKA_KEY_TYPE, &kt, sizeof kt};
  ET_RETURN_IF_ERROR(
      s.Check(s.fn()->C_GetAttributeValue(s.handle(), object, &a, 1), "C_GetAttributeValue"));
  return kt;
}

Result<EvpPkeyPtr> Token::ReadPublicKey(Session& s, CK_OBJECT_HANDLE pub, KeyType type) {
  if (type == KeyType::kRsa3072) {
    ET_ASSIGN_OR_RETURN(Bytes n, Attribute(s, pub, CKA_MODULUS));
    ET_ASSIGN_OR_RETURN(Bytes e, Attribute(s, pub, CKA_PUBLIC_EXPONENT));
    return RsaPublicKey(n, e);
  }
  ET_ASSIGN_OR_RETURN(Bytes params, Attribute(s, pub, CKA_EC_PARAMS));
  if (!ParamsMatch(type, params)) {
    return Status(ErrorCode::kTampered, "the token object's curve is not that of a " +
                                            std::string(KeyTypeName(type)) + " key");
  }
  ET_ASSIGN_OR_RETURN(Bytes point_attr, Attribute(s, pub, CKA_EC_POINT));
  ET_ASSIGN_OR_RETURN(Bytes point, RawEcPoint(point_attr, RawPointSize(type)));
  if (type == KeyType::kEd25519) return Ed25519PublicKey(point);
  return EcPublicKey(type, point);
}

}  // namespace edgetrust::sd::pkcs11
