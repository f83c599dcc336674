#include "cli/public_key.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <array>
#include <climits>
#include <string>

#include "common/openssl_ptr.h"

namespace edgetrust::cli {

Result<KeyType> KeyTypeOfPublicPem(std::string_view pem) {
  if (pem.size() > INT_MAX) return Status(ErrorCode::kInvalidArgument, "public key is too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status(ErrorCode::kInternal, OpensslError("BIO_new_mem_buf failed"));
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status(ErrorCode::kInvalidArgument, OpensslError("not a PEM public key"));

  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return KeyType::kRsa3072;
    case EVP_PKEY_EC: {
      std::array<char, 80> group{};
      size_t len = 0;
      if (EVP_PKEY_get_group_name(key.get(), group.data(), group.size(), &len) != 1) {
        return Status(ErrorCode::kUnsupported, OpensslError("EC public key without a named curve"));
      }
      // OpenSSL reports the short name ("prime256v1"); accept NIST names ("P-256") as well.
      int nid = OBJ_sn2nid(group.data());
      if (nid == NID_undef) nid = EC_curve_nist2nid(group.data());
      if (nid == NID_X9_62_prime256v1) return KeyType::kEcdsaP256;
      if (nid == NID_secp384r1) return KeyType::kEcdsaP384;
      return Status(ErrorCode::kUnsupported, std::string("unsupported EC curve ") + group.data());
    }
    default:
      return Status(ErrorCode::kUnsupported, "unsupported public key type");
  }
}

}  // namespace edgetrust::cli
