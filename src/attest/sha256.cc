// SHA-256 through one shared EVP_MD (sha256.h).
#include "attest/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <new>

#include "common/openssl_ptr.h"

namespace edgetrust::attest {

const EVP_MD* Sha256Md() {
  // Kept for the life of the process; a function-local static is initialised once, thread-safely.
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}

Digest256 Sha256(std::initializer_list<ByteView> parts) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) != 1) throw std::bad_alloc();
  for (ByteView p : parts) {
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) throw std::bad_alloc();
  }
  Digest256 out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    throw std::bad_alloc();
  }
  return out;
}

}  // namespace edgetrust::attest
