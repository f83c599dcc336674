#include "cli/file_signing.h"

#include <openssl/evp.h>

#include <optional>
#include <string_view>

#include "cli/io.h"
#include "cli/public_key.h"
#include "common/openssl_ptr.h"

namespace edgetrust::cli {
namespace {

// What goes to the daemon: the whole message, or a digest with the algorithm it was made for.
struct PreparedInput {
  Bytes message;
  std::optional<Bytes> digest;
  SignAlgorithm algorithm = SignAlgorithm::kDefault;
};

// The algorithm for a pre-hashed input; Ed25519 signs whole messages only.
Result<SignAlgorithm> DigestAlgorithm(Client& client, const std::string& key,
                                      SignAlgorithm requested, const std::string& input_name) {
  const Status ed25519_error(ErrorCode::kUnsupported,
                             input_name +
                                 " is larger than 1 MiB, and Ed25519 keys sign messages of "
                                 "at most 1 MiB (the key cannot sign a digest)");
  if (requested == SignAlgorithm::kEd25519) return ed25519_error;
  // An explicit algorithm names its digest; the daemon checks that it fits the key. This also
  // keeps working for granted keys whose grant does not include reading the public key.
  if (requested != SignAlgorithm::kDefault) return requested;
  ET_ASSIGN_OR_RETURN(std::string pem, client.PublicKeyPem(key));
  ET_ASSIGN_OR_RETURN(KeyType type, KeyTypeOfPublicPem(pem));
  if (type == KeyType::kEd25519) return ed25519_error;
  auto resolved = ResolveSignAlgorithm(type, SignAlgorithm::kDefault);
  if (!resolved) return Status(ErrorCode::kUnsupported, "key '" + key + "' cannot sign");
  return *resolved;
}

// Hashes `head` and then the rest of `in` with the digest of `algorithm`.
Result<Bytes> DigestStream(ByteView head, Input& in, SignAlgorithm algorithm) {
  const std::string name(SignAlgorithmDigestName(algorithm));
  const EVP_MD* md = EVP_get_digestbyname(name.c_str());
  if (md == nullptr) {
    return Status(
        ErrorCode::kUnsupported,
        "algorithm " + std::string(SignAlgorithmName(algorithm)) + " cannot sign a digest");
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), head.data(), head.size()) != 1) {
    return Status(ErrorCode::kInternal, OpensslError("digest init failed"));
  }
  Bytes chunk(size_t{256} * 1024);
  for (;;) {
    ET_ASSIGN_OR_RETURN(size_t n, in.Read(chunk.data(), chunk.size()));
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), chunk.data(), n) != 1) {
      return Status(ErrorCode::kInternal, OpensslError("digest update failed"));
    }
  }
  Bytes digest(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1) {
    return Status(ErrorCode::kInternal, OpensslError("digest final failed"));
  }
  digest.resize(len);
  return digest;
}

Result<PreparedInput> Prepare(Client& client, const std::string& key, const std::string& in_path,
                              SignAlgorithm requested) {
  ET_ASSIGN_OR_RETURN(Input in, Input::Open(in_path));
  // Read one byte past the limit: that tells a whole message from a large one without knowing the
  // size up front (stdin has none).
  PreparedInput out;
  out.algorithm = requested;
  out.message.resize(kMaxWholeMessage + 1);
  size_t got = 0;
  while (got < out.message.size()) {
    ET_ASSIGN_OR_RETURN(size_t n, in.Read(out.message.data() + got, out.message.size() - got));
    if (n == 0) break;
    got += n;
  }
  out.message.resize(got);
  if (got <= kMaxWholeMessage) return out;

  ET_ASSIGN_OR_RETURN(out.algorithm, DigestAlgorithm(client, key, requested, in.name()));
  ET_ASSIGN_OR_RETURN(Bytes digest, DigestStream(out.message, in, out.algorithm));
  out.digest = std::move(digest);
  out.message.clear();
  return out;
}

}  // namespace

Result<SignedInput> SignInput(Client& client, const std::string& key, const std::string& in_path,
                              SignAlgorithm algorithm) {
  ET_ASSIGN_OR_RETURN(PreparedInput in, Prepare(client, key, in_path, algorithm));
  SignedInput out;
  out.algorithm = in.algorithm;
  SignOptions options{in.algorithm};
  if (in.digest) {
    ET_ASSIGN_OR_RETURN(out.signature, client.SignDigest(key, *in.digest, options));
  } else {
    ET_ASSIGN_OR_RETURN(out.signature, client.Sign(key, in.message, options));
  }
  return out;
}

Result<bool> VerifyInput(Client& client, const std::string& key, const std::string& in_path,
                         ByteView signature, SignAlgorithm algorithm) {
  ET_ASSIGN_OR_RETURN(PreparedInput in, Prepare(client, key, in_path, algorithm));
  SignOptions options{in.algorithm};
  if (in.digest) return client.VerifyDigest(key, *in.digest, signature, options);
  return client.Verify(key, in.message, signature, options);
}

Result<SignAlgorithm> ResolveForKey(Client& client, const std::string& key,
                                    SignAlgorithm algorithm) {
  if (algorithm != SignAlgorithm::kDefault) return algorithm;
  ET_ASSIGN_OR_RETURN(std::string pem, client.PublicKeyPem(key));
  ET_ASSIGN_OR_RETURN(KeyType type, KeyTypeOfPublicPem(pem));
  auto resolved = ResolveSignAlgorithm(type, algorithm);
  if (!resolved) return Status(ErrorCode::kUnsupported, "key '" + key + "' cannot sign");
  return *resolved;
}

}  // namespace edgetrust::cli
