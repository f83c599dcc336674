#include "mqtt/client_tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/files.h"

namespace edgetrust::mqtt {
namespace {

constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
// TLS 1.2 PSK suites with forward secrecy and AEAD (there is no ECDHE-PSK with GCM).
constexpr char kTls12PskCiphers[] =
    "ECDHE-PSK-CHACHA20-POLY1305:DHE-PSK-AES256-GCM-SHA384:DHE-PSK-CHACHA20-POLY1305:"
    "DHE-PSK-AES128-GCM-SHA256";
constexpr size_t kMaxKeyFile = 1 << 20;

struct PskData {
  std::string identity;
  SecretBytes key;
};

void FreePsk(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
             void* /*argp*/) {
  delete static_cast<PskData*>(ptr);
}

int PskIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreePsk);
  return index;
}

// OpenSSL calls this for TLS 1.2 PSK suites and, with a SHA-256 suite, for TLS 1.3 too.
unsigned int PskClientCallback(SSL* ssl, const char* /*hint*/, char* identity,
                               unsigned int max_identity_len, unsigned char* psk,
                               unsigned int max_psk_len) {
  const auto* data =
      static_cast<const PskData*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), PskIndex()));
  if (data == nullptr || data->identity.size() + 1 > max_identity_len ||
      data->key.size() > max_psk_len) {
    return 0;
  }
  std::memcpy(identity, data->identity.c_str(), data->identity.size() + 1);
  std::memcpy(psk, data->key.data(), data->key.size());
  return static_cast<unsigned int>(data->key.size());
}

Status Internal(const std::string& what) {
  return Status(ErrorCode::kInternal, OpensslError(what));
}

}  // namespace

Result<SecretBytes> ReadSecretFile(const std::string& path) {
  // O_NONBLOCK: a FIFO in place of a key file must not hang the caller.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    return Status(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                  path + ": " + ErrnoText(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxKeyFile) {
    ::close(fd);
    return Status(ErrorCode::kInvalidArgument, path + ": not a regular file of at most 1 MiB");
  }
  ::fcntl(fd, F_SETFL, 0);  // a regular file: plain blocking reads
  SecretBytes data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  data.Truncate(done);
  return data;
}

Result<EvpPkeyPtr> ParsePrivateKeyPem(ByteView pem, const std::string& what, OSSL_LIB_CTX* libctx) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("BIO_new_mem_buf");
  ERR_clear_error();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, nullptr, nullptr, libctx, nullptr));
  if (!key) {
    return Status(ErrorCode::kInvalidArgument,
                  OpensslError(what + ": not an unencrypted PEM private key"));
  }
  return key;
}

Result<EvpPkeyPtr> LoadPrivateKeyPem(const std::string& path, OSSL_LIB_CTX* libctx) {
  ET_ASSIGN_OR_RETURN(SecretBytes pem, ReadSecretFile(path));
  return ParsePrivateKeyPem(pem.view(), path, libctx);
}

Result<SslCtxPtr> BuildClientTlsContext(const ClientTlsConfig& config) {
  if (!config.cert_file.empty() && config.key == nullptr) {
    return Status(ErrorCode::kInvalidArgument, "a client certificate needs its key");
  }
  const bool psk = !config.psk.empty();
  if (psk && config.psk_identity.empty()) {
    return Status(ErrorCode::kInvalidArgument, "a PSK needs an identity");
  }
  SslCtxPtr ctx(SSL_CTX_new_ex(config.libctx, nullptr, TLS_client_method()));
  if (!ctx) return Internal("SSL_CTX_new_ex");
  const std::string ciphers =
      psk ? std::string(kTls12PskCiphers) + ":" + kTls12Ciphers : std::string(kTls12Ciphers);
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), ciphers.c_str()) != 1) {
    return Internal("TLS protocol settings");
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);

  // Verification is always on; with no CA file the store is empty and refuses any certificate.
  if (!config.ca_file.empty()) {
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx.get(), config.ca_file.c_str(), nullptr) != 1) {
      return Status(ErrorCode::kInvalidArgument,
                    OpensslError(config.ca_file + ": cannot read CA certificates"));
    }
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_hostflags(
      param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);

  if (!config.cert_file.empty()) {
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), config.cert_file.c_str()) != 1) {
      return Status(ErrorCode::kInvalidArgument,
                    OpensslError(config.cert_file + ": cannot read the certificate chain"));
    }
    if (SSL_CTX_use_PrivateKey(ctx.get(), config.key) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Status(ErrorCode::kInvalidArgument,
                    OpensslError(config.cert_file + ": the certificate is not for the key"));
    }
  }
  if (psk) {
    auto* data = new PskData{config.psk_identity, config.psk.Clone()};
    if (SSL_CTX_set_ex_data(ctx.get(), PskIndex(), data) != 1) {
      delete data;
      return Internal("SSL_CTX_set_ex_data");
    }
    SSL_CTX_set_psk_client_callback(ctx.get(), PskClientCallback);
  }
  return ctx;
}

}  // namespace edgetrust::mqtt
