// The edgetrust OpenSSL provider in-process, against the real edgetrust-sd on every backend:
// keys loaded by name and from their PEM form, signatures checked by the openssl CLI, X.509
// signing, TLS 1.3 handshakes (server-only and mutual) with libssl, many threads on one key, a
// forked child, a daemon restart, and the errors a caller sees. Runs under ASan and TSan too; the
// loadable module with stock programs (openssl, mosquitto) is provider_interop_test.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <tuple>

#include "conformance_fixture.h"
#include "provider/key_uri.h"
#include "provider/load_key.h"

namespace edgetrust::test {
namespace {

using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OsslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OsslDeleter<SSL_free>>;

Bytes DigestSign(EVP_PKEY* key, const std::string& message, const char* md) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, key, nullptr) != 1) return {};
  if (EVP_PKEY_is_a(key, "RSA")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t len = 0;
  auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, message.size()) != 1) return {};
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, message.size()) != 1) return {};
  sig.resize(len);
  return sig;
}

const char* DigestFor(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return nullptr;
    case KeyType::kEcdsaP384:
      return "SHA384";
    default:
      return "SHA256";
  }
}

// A certificate for `subject` signed by `issuer_key` (self-signed when issuer is null): enough
// X.509 for a TLS handshake, and a test of X509_sign with a secure-domain key.
X509Ptr MakeCert(EVP_PKEY* subject, EVP_PKEY* issuer_key, X509* issuer, const std::string& cn,
                 bool ca) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), ca ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x.get(), subject);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (!ca) add(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  const EVP_MD* md = EVP_PKEY_is_a(issuer_key, "ED25519") ? nullptr : EVP_sha256();
  if (X509_sign(x.get(), issuer_key, md) <= 0) return nullptr;
  return x;
}

class ProviderTest : public ConformanceBase,
                     public ::testing::WithParamInterface<std::tuple<std::string, KeyType>> {
 protected:
  std::string Backend() const override { return std::get<0>(GetParam()); }
  KeyType Type() const { return std::get<1>(GetParam()); }
  void SetUp() override {
    ConformanceBase::SetUp();
    if (HasFatalFailure()) return;
    if (!Supports(Type()))
      GTEST_SKIP() << Backend() << " has no " << KeyTypeName(Type()) << " keys";
    ASSERT_TRUE(client_->CreateKey("k", Type()).ok());
  }
  EvpPkeyPtr Load(const std::string& name = "k") {
    auto key = provider::LoadKey(name, sd_->socket());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.ok() ? std::move(key).value() : nullptr;
  }
};

TEST_P(ProviderTest, SignsWhatOpensslVerifies) {
  EvpPkeyPtr key = Load();
  ASSERT_TRUE(key);
  Bytes sig = DigestSign(key.get(), "hello provider", DigestFor(Type()));
  ASSERT_FALSE(sig.empty()) << OpensslError("DigestSign");
  ExpectOpensslVerifies("k", Type(), "hello provider", sig);
  ExpectOpensslVerifies("k", Type(), "hello provider!", sig, /*expect_ok=*/false);
}

TEST_P(ProviderTest, PublicPartIsTheDaemonsAndPrivatePartStaysThere) {
  EvpPkeyPtr key = Load();
  ASSERT_TRUE(key);
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio.get(), key.get()), 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  auto pem = client_->PublicKeyPem("k");
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(std::string(data, static_cast<size_t>(n)), *pem);
  // Written out "as a private key", it becomes its EDGETRUST KEY reference, and nothing more.
  BioPtr out(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
            1)
      << OpensslError("PEM_write_bio_PrivateKey");
  char* written = nullptr;
  long len = BIO_get_mem_data(out.get(), &written);
  EXPECT_EQ(std::string(written, static_cast<size_t>(len)),
            provider::FormatKeyPem({"k", sd_->socket()}));
  // No other encoding, and no export of the private part, gives anything.
  unsigned char* der = nullptr;
  EXPECT_LE(i2d_PrivateKey(key.get(), &der), 0);
  OPENSSL_free(der);
  OSSL_PARAM* params = nullptr;
  EXPECT_NE(EVP_PKEY_todata(key.get(), EVP_PKEY_KEYPAIR, &params), 1);
  OSSL_PARAM_free(params);
  ERR_clear_error();
}

TEST_P(ProviderTest, PemReferenceLoadsTheSameKey) {
  auto libctx = provider::SharedLibCtx();
  ASSERT_TRUE(libctx.ok());
  const std::string pem = provider::FormatKeyPem({"k", sd_->socket()});
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(
      PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, nullptr, nullptr, *libctx, nullptr));
  ASSERT_TRUE(key) << OpensslError("PEM_read_bio_PrivateKey_ex");
  EvpPkeyPtr by_name = Load();
  ASSERT_TRUE(by_name);
  EXPECT_EQ(EVP_PKEY_eq(key.get(), by_name.get()), 1);
  Bytes sig = DigestSign(key.get(), "via pem", DigestFor(Type()));
  ASSERT_FALSE(sig.empty()) << OpensslError("DigestSign");
  ExpectOpensslVerifies("k", Type(), "via pem", sig);
}

TEST_P(ProviderTest, SignsCertificatesOpensslVerifies) {
  EvpPkeyPtr key = Load();
  ASSERT_TRUE(key);
  X509Ptr ca = MakeCert(key.get(), key.get(), nullptr, "test ca", true);
  ASSERT_TRUE(ca) << OpensslError("X509_sign");
  BioPtr bio(BIO_new_file(dir_.File("ca.pem").c_str(), "w"));
  ASSERT_EQ(PEM_write_bio_X509(bio.get(), ca.get()), 1);
  bio.reset();
  auto r = RunCommand({"openssl", "verify", "-CAfile", dir_.File("ca.pem"), dir_.File("ca.pem")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": OK"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    AllBackends, ProviderTest,
    ::testing::Combine(::testing::ValuesIn(BackendEnv::All()),
                       ::testing::Values(KeyType::kEcdsaP256, KeyType::kEcdsaP384,
                                         KeyType::kEd25519, KeyType::kRsa3072)),
    [](const auto& p) {
      std::string n = std::get<0>(p.param) + "_" + std::string(KeyTypeName(std::get<1>(p.param)));
      for (char& c : n)
        if (c == '-') c = '_';
      return n;
    });

// One TLS 1.3 handshake over a socket pair: the server thread accepts, this thread connects.
struct HandshakeResult {
  bool ok = false;
  std::string error;
  std::string peer_seen_by_server;  // the client certificate's subject, for mutual TLS
};

HandshakeResult Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
  // A refused peer closes its end; writing to it must fail, not kill the test with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  HandshakeResult result;
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return result;
  SslPtr server(SSL_new(server_ctx)), client(SSL_new(client_ctx));
  SSL_set_fd(server.get(), fds[0]);
  SSL_set_fd(client.get(), fds[1]);
  SSL_set_tlsext_host_name(client.get(), "localhost");
  SSL_set1_host(client.get(), "localhost");
  std::string server_error;
  std::thread t([&] {
    if (SSL_accept(server.get()) != 1) {
      server_error = OpensslError("SSL_accept");
    } else if (X509* peer = SSL_get1_peer_certificate(server.get())) {
      char buf[256];
      X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
      result.peer_seen_by_server = buf;
      X509_free(peer);
    }
    char byte = 0;
    SSL_read(server.get(), &byte, 1);
  });
  const bool connected = SSL_connect(client.get()) == 1;
  if (!connected) result.error = OpensslError("SSL_connect");
  if (connected) {
    result.ok = SSL_version(client.get()) == TLS1_3_VERSION &&
                SSL_get_verify_result(client.get()) == X509_V_OK;
    SSL_write(client.get(), "x", 1);
  }
  ::shutdown(fds[1], SHUT_RDWR);
  t.join();
  ::close(fds[0]);
  ::close(fds[1]);
  if (!server_error.empty()) {
    result.ok = false;
    result.error += " server: " + server_error;
  }
  return result;
}

TEST_P(ProviderTest, Tls13HandshakeWithServerAndClientKeysInTheSecureDomain) {
  ASSERT_TRUE(client_->CreateKey("ca", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("client", Type()).ok());
  EvpPkeyPtr ca_key = Load("ca"), server_key = Load(), client_key = Load("client");
  ASSERT_TRUE(ca_key && server_key && client_key);
  X509Ptr ca = MakeCert(ca_key.get(), ca_key.get(), nullptr, "test ca", true);
  X509Ptr server_cert = MakeCert(server_key.get(), ca_key.get(), ca.get(), "localhost", false);
  X509Ptr client_cert = MakeCert(client_key.get(), ca_key.get(), ca.get(), "sensor-1", false);
  ASSERT_TRUE(ca && server_cert && client_cert) << OpensslError("X509_sign");

  auto libctx = provider::SharedLibCtx();
  ASSERT_TRUE(libctx.ok());
  auto make_ctx = [&](const SSL_METHOD* method, X509* cert, EVP_PKEY* key) {
    SslCtxPtr ctx(SSL_CTX_new_ex(*libctx, nullptr, method));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca.get());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (cert != nullptr) {
      EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cert), 1) << OpensslError("use_certificate");
      EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key), 1) << OpensslError("use_PrivateKey");
      EXPECT_EQ(SSL_CTX_check_private_key(ctx.get()), 1) << OpensslError("check_private_key");
    }
    return ctx;
  };
  // Server authentication only; the client is a plain OpenSSL client in the default context.
  SslCtxPtr server = make_ctx(TLS_server_method(), server_cert.get(), server_key.get());
  SSL_CTX_set_verify(server.get(), SSL_VERIFY_NONE, nullptr);
  SslCtxPtr plain_client(SSL_CTX_new(TLS_client_method()));
  X509_STORE_add_cert(SSL_CTX_get_cert_store(plain_client.get()), ca.get());
  SSL_CTX_set_verify(plain_client.get(), SSL_VERIFY_PEER, nullptr);
  auto r = Handshake(server.get(), plain_client.get());
  EXPECT_TRUE(r.ok) << r.error;

  // Mutual TLS: both keys in the secure domain, the server requires and checks the client's.
  SslCtxPtr mtls_server = make_ctx(TLS_server_method(), server_cert.get(), server_key.get());
  SSL_CTX_set_verify(mtls_server.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SslCtxPtr mtls_client = make_ctx(TLS_client_method(), client_cert.get(), client_key.get());
  r = Handshake(mtls_server.get(), mtls_client.get());
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.peer_seen_by_server, "/CN=sensor-1");

  // A client without a certificate is refused by that server.
  r = Handshake(mtls_server.get(), plain_client.get());
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.peer_seen_by_server.empty());
}

class ProviderBackendTest : public ConformanceBase,
                            public ::testing::WithParamInterface<std::string> {
 protected:
  std::string Backend() const override { return GetParam(); }
};

TEST_P(ProviderBackendTest, ManyThreadsShareOneKey) {
  ASSERT_TRUE(client_->CreateKey("k", KeyType::kEcdsaP256).ok());
  auto key = provider::LoadKey("k", sd_->socket());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto pem = client_->PublicKeyPem("k");
  ASSERT_TRUE(pem.ok());
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  EvpPkeyPtr pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(pub);
  constexpr int kThreads = 6, kEach = 40;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string msg = "thread " + std::to_string(t) + " msg " + std::to_string(i);
        Bytes sig = DigestSign(key->get(), msg, "SHA256");
        EvpMdCtxPtr v(EVP_MD_CTX_new());
        if (!sig.empty() &&
            EVP_DigestVerifyInit(v.get(), nullptr, EVP_sha256(), nullptr, pub.get()) == 1 &&
            EVP_DigestVerify(v.get(), sig.data(), sig.size(),
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1)
          good.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kThreads * kEach);
}

TEST_P(ProviderBackendTest, ForkedChildSignsOnItsOwnConnection) {
  ASSERT_TRUE(client_->CreateKey("k", KeyType::kEcdsaP256).ok());
  auto key = provider::LoadKey("k", sd_->socket());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  ASSERT_FALSE(DigestSign(key->get(), "before fork", "SHA256").empty());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child must not read answers meant for the parent: it opens its own connection.
    Bytes sig = DigestSign(key->get(), "in the child", "SHA256");
    WriteText(dir_.File("child.sig"), Str(sig));
    ::_exit(sig.empty() ? 1 : 0);
  }
  Bytes parent_sig = DigestSign(key->get(), "in the parent", "SHA256");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ExpectOpensslVerifies("k", KeyType::kEcdsaP256, "in the parent", parent_sig);
  const std::string child = ReadText(dir_.File("child.sig"));
  ExpectOpensslVerifies("k", KeyType::kEcdsaP256, "in the child",
                        Bytes(child.begin(), child.end()));
}

TEST_P(ProviderBackendTest, KeyKeepsWorkingAcrossADaemonRestart) {
  ASSERT_TRUE(client_->CreateKey("k", KeyType::kEcdsaP256).ok());
  auto key = provider::LoadKey("k", sd_->socket());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  ASSERT_FALSE(DigestSign(key->get(), "before", "SHA256").empty());
  RestartDaemon();
  Bytes sig = DigestSign(key->get(), "after", "SHA256");
  ASSERT_FALSE(sig.empty()) << OpensslError("DigestSign after restart");
  ExpectOpensslVerifies("k", KeyType::kEcdsaP256, "after", sig);
}

TEST_P(ProviderBackendTest, ErrorsSayWhatIsWrong) {
  ASSERT_TRUE(client_->CreateKey("mac", KeyType::kHmacSha256).ok());
  auto missing = provider::LoadKey("nope", sd_->socket());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  auto symmetric = provider::LoadKey("mac", sd_->socket());
  ASSERT_FALSE(symmetric.ok());
  EXPECT_EQ(symmetric.status().code(), ErrorCode::kUnsupported) << symmetric.status().ToString();
  auto bad_name = provider::LoadKey("a b", sd_->socket());
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().code(), ErrorCode::kInvalidArgument);
  auto no_daemon = provider::LoadKey("k", dir_.File("nowhere.sock"));
  ASSERT_FALSE(no_daemon.ok());
  EXPECT_EQ(no_daemon.status().code(), ErrorCode::kUnavailable) << no_daemon.status().ToString();
}

TEST_P(ProviderBackendTest, SigningFailsCleanlyWhenTheDaemonIsGone) {
  ASSERT_TRUE(client_->CreateKey("k", KeyType::kEcdsaP256).ok());
  auto key = provider::LoadKey("k", sd_->socket());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  client_.reset();
  ASSERT_EQ(sd_->Stop(), 0);
  EXPECT_TRUE(DigestSign(key->get(), "nobody listens", "SHA256").empty());
  unsigned long err = ERR_peek_last_error();
  char buf[512];
  ERR_error_string_n(err, buf, sizeof buf);
  ERR_clear_error();
  EXPECT_NE(std::string(buf).find("secure-domain operation failed"), std::string::npos) << buf;
  sd_.reset();
}

INSTANTIATE_TEST_SUITE_P(AllBackends, ProviderBackendTest, ::testing::ValuesIn(BackendEnv::All()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace edgetrust::test
