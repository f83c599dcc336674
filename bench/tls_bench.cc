// TLS benchmark: full TLS 1.3 handshakes per second with the server's key in the secure domain
// (edgetrust-sd on its emulated backend, reached through the edgetrust OpenSSL provider) against
// the same kind of key in a PEM file, side by side in one run.
//
// Each handshake is a complete one: a fresh client and server SSL object over a fresh socketpair,
// no session cache, no tickets (SSL_CTX_set_num_tickets 0), so every handshake makes the server
// sign a CertificateVerify (and, with mutual TLS, the client too). Both ends run in-process with
// libssl, driven in turns by the measuring thread: a figure is one core's handshakes, client and
// server work together, plus, for the "sd" column, the daemon's work on its own core. The client
// verifies the server's certificate chain (and the server the client's, for mutual TLS) against a
// CA made by the benchmark, so a signature that was not the secure-domain key's fails the run.
//
// Columns: "sd": the key is provider::LoadKey(NAME) from the benchmark's daemon (for mutual TLS
// both the server's and the client's key); "PEM": an in-process key of the same type read from a
// PEM file. Both use the same library context (provider::SharedLibCtx(), default provider plus
// edgetrust) and the same settings. Rows: ECDSA P-256, RSA-3072 (RSA-PSS), Ed25519, each with
// server-only authentication and with mutual TLS. Each cell is measured in 3 alternating slices.
//
// Usage: tls_bench [--seconds S] [--help]. Run as root (the daemon drops to the user daemon).
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_table.h"
#include "common/openssl_ptr.h"
#include "edgetrust/client.h"
#include "harness.h"
#include "provider/load_key.h"

namespace {

using edgetrust::Client;
using edgetrust::ErrorCode;
using edgetrust::EvpPkeyPtr;
using edgetrust::KeyType;
using edgetrust::OpensslError;
using edgetrust::Result;
using edgetrust::Status;
using edgetrust::bench::Cell;
using edgetrust::bench::Fixed;
using edgetrust::bench::Metric;
using edgetrust::bench::OpFactory;
using edgetrust::bench::Table;
using edgetrust::bench::ThreadOp;

using X509Ptr = std::unique_ptr<X509, edgetrust::OsslDeleter<X509_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, edgetrust::OsslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, edgetrust::OsslDeleter<SSL_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, edgetrust::OsslDeleter<X509_STORE_free>>;

// Each cell's time is split into this many slices, taken in turns with the other column.
constexpr int kRounds = 3;

struct Options {
  double seconds = 2.0;
};

struct KeyKind {
  KeyType type;
  const char* title;
  const char* metric;  // metric name part
};
constexpr KeyKind kKinds[] = {
    {KeyType::kEcdsaP256, "ECDSA P-256", "p256"},
    {KeyType::kRsa3072, "RSA-3072 (RSA-PSS)", "rsa3072"},
    {KeyType::kEd25519, "Ed25519", "ed25519"},
};

Status Failed(const std::string& what) { return Status(ErrorCode::kInternal, OpensslError(what)); }

// --- keys and certificates --------------------------------------------------------------------

Result<EvpPkeyPtr> Generate(OSSL_LIB_CTX* libctx, KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcdsaP256:
      key = EVP_PKEY_Q_keygen(libctx, nullptr, "EC", "P-256");
      break;
    case KeyType::kRsa3072:
      key = EVP_PKEY_Q_keygen(libctx, nullptr, "RSA", size_t{3072});
      break;
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(libctx, nullptr, "ED25519");
      break;
    default:
      break;
  }
  if (key == nullptr) return Failed("key generation");
  return EvpPkeyPtr(key);
}

// A freshly generated key of `type`, written to a PEM file: the "PEM" columns' key, read back
// from that file (ReadPemKey) as a program holding its key in a file has it.
Status WritePemKey(OSSL_LIB_CTX* libctx, KeyType type, const std::string& path) {
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr generated, Generate(libctx, type));
  edgetrust::BioPtr out(BIO_new_file(path.c_str(), "w"));
  if (!out || PEM_write_bio_PrivateKey(out.get(), generated.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return Failed("writing " + path);
  }
  return Status::Ok();
}

Result<EvpPkeyPtr> ReadPemKey(OSSL_LIB_CTX* libctx, const std::string& path) {
  edgetrust::BioPtr in(BIO_new_file(path.c_str(), "r"));
  EVP_PKEY* key =
      in ? PEM_read_bio_PrivateKey_ex(in.get(), nullptr, nullptr, nullptr, libctx, nullptr)
         : nullptr;
  if (key == nullptr) return Failed("reading " + path);
  return EvpPkeyPtr(key);
}

Result<EvpPkeyPtr> PublicFromPem(const std::string& pem) {
  edgetrust::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) return Failed("parsing a public key");
  return EvpPkeyPtr(key);
}

Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  const bool ok = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok ? Status::Ok() : Failed("certificate extension");
}

// A certificate for `subject_key` (its public half) named CN=`cn`, signed by `issuer_key`; by
// itself (a CA) when `issuer` is null.
Result<X509Ptr> Issue(EVP_PKEY* subject_key, const std::string& cn, EVP_PKEY* issuer_key,
                      X509* issuer, bool ca, long serial) {
  X509Ptr cert(X509_new());
  if (!cert) return Failed("X509_new");
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_set_version(cert.get(), 2) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2L * 86400) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) !=
          1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return Failed("certificate fields");
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (ca) {
    ET_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE"));
    ET_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    ET_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_alt_name, "DNS:localhost"));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return Failed("X509_sign");
  return cert;
}

// A key and the certificate of its public half.
struct Identity {
  EvpPkeyPtr key;
  X509Ptr cert;
};

// --- one full handshake -----------------------------------------------------------------------

// A server and a client SSL_CTX for one thread, and the handshake between them.
class Handshaker {
 public:
  static Result<std::unique_ptr<Handshaker>> Create(OSSL_LIB_CTX* libctx, const Identity& server,
                                                    const Identity* client, X509* ca) {
    auto h = std::unique_ptr<Handshaker>(new Handshaker);
    h->server_.reset(SSL_CTX_new_ex(libctx, nullptr, TLS_server_method()));
    h->client_.reset(SSL_CTX_new_ex(libctx, nullptr, TLS_client_method()));
    if (!h->server_ || !h->client_) return Failed("SSL_CTX_new_ex");
    for (SSL_CTX* ctx : {h->server_.get(), h->client_.get()}) {
      X509_STORE* store = X509_STORE_new();
      if (store == nullptr || X509_STORE_add_cert(store, ca) != 1) {
        X509_STORE_free(store);
        return Failed("CA store");
      }
      SSL_CTX_set_cert_store(ctx, store);  // takes ownership
      if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
          SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        return Failed("TLS 1.3 only");
      }
      // Full handshakes only: no session cache, no tickets, no resumption.
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
      SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    if (SSL_CTX_set_num_tickets(h->server_.get(), 0) != 1) return Failed("no tickets");
    if (SSL_CTX_use_certificate(h->server_.get(), server.cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(h->server_.get(), server.key.get()) != 1 ||
        SSL_CTX_check_private_key(h->server_.get()) != 1) {
      return Failed("server certificate and key");
    }
    SSL_CTX_set_verify(h->client_.get(), SSL_VERIFY_PEER, nullptr);
    if (client != nullptr) {
      SSL_CTX_set_verify(h->server_.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         nullptr);
      if (SSL_CTX_use_certificate(h->client_.get(), client->cert.get()) != 1 ||
          SSL_CTX_use_PrivateKey(h->client_.get(), client->key.get()) != 1 ||
          SSL_CTX_check_private_key(h->client_.get()) != 1) {
        return Failed("client certificate and key");
      }
    }
    return h;
  }

  // One full handshake over a fresh socketpair, both ends driven here in turns (non-blocking).
  // Fails unless both ends completed and verified their peer.
  Status Run() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
      return Status(ErrorCode::kInternal, "socketpair");
    SslPtr server(SSL_new(server_.get()));
    SslPtr client(SSL_new(client_.get()));
    Status st = Status::Ok();
    if (!server || !client || SSL_set_fd(server.get(), fds[0]) != 1 ||
        SSL_set_fd(client.get(), fds[1]) != 1 || SSL_set1_host(client.get(), "localhost") != 1) {
      st = Failed("SSL_new");
    } else {
      SSL_set_accept_state(server.get());
      SSL_set_connect_state(client.get());
      bool server_done = false;
      bool client_done = false;
      // Each step moves at least one flight; a TLS 1.3 handshake takes a handful.
      for (int step = 0; st.ok() && !(server_done && client_done); ++step) {
        if (step > 100) {
          st = Status(ErrorCode::kInternal, "handshake does not progress");
          break;
        }
        if (!client_done) st = Step(client.get(), &client_done, "client");
        if (st.ok() && !server_done) st = Step(server.get(), &server_done, "server");
      }
      if (st.ok() && (SSL_get_verify_result(client.get()) != X509_V_OK ||
                      SSL_get_verify_result(server.get()) != X509_V_OK)) {
        st = Status(ErrorCode::kInternal, "peer verification failed");
      }
    }
    server.reset();
    client.reset();
    ::close(fds[0]);
    ::close(fds[1]);
    return st;
  }

 private:
  Handshaker() = default;

  static Status Step(SSL* ssl, bool* done, const char* side) {
    const int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
      *done = true;
      return Status::Ok();
    }
    const int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Ok();
    return Failed(std::string(side) + " handshake");
  }

  SslCtxPtr server_;
  SslCtxPtr client_;
};

OpFactory HandshakeOp(OSSL_LIB_CTX* libctx, const Identity* server, const Identity* client,
                      X509* ca) {
  return [=](int) -> Result<ThreadOp> {
    ET_ASSIGN_OR_RETURN(std::unique_ptr<Handshaker> owned,
                        Handshaker::Create(libctx, *server, client, ca));
    std::shared_ptr<Handshaker> h(std::move(owned));
    return ThreadOp([h] { return h->Run(); });
  };
}

std::string Ratio(const Cell& a, const Cell& b) {
  if (!a.measured || !b.measured || b.ops_per_s <= 0) return "n/a";
  return Fixed(a.ops_per_s / b.ops_per_s, 2) + "x";
}

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      o.seconds = std::atof(argv[++i]);
    } else {
      return false;
    }
  }
  return o.seconds > 0;
}

int Run(const Options& o) {
  edgetrust::test::TempDir dir;
  edgetrust::test::SdProcess sd(dir);
  if (!sd.Start()) {
    std::fprintf(stderr, "edgetrust-sd did not start:\n%s\n", sd.log().c_str());
    return 1;
  }
  auto libctx_or = edgetrust::provider::SharedLibCtx();
  if (!libctx_or.ok()) {
    std::fprintf(stderr, "%s\n", libctx_or.status().ToString().c_str());
    return 1;
  }
  OSSL_LIB_CTX* libctx = *libctx_or;
  auto admin_or = Client::Connect(sd.socket());
  if (!admin_or.ok()) {
    std::fprintf(stderr, "%s\n", admin_or.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Client> admin = std::move(admin_or).value();

  // The CA: an in-process P-256 key.
  auto ca_key = Generate(libctx, KeyType::kEcdsaP256);
  if (!ca_key.ok()) {
    std::fprintf(stderr, "%s\n", ca_key.status().ToString().c_str());
    return 1;
  }
  auto ca = Issue(ca_key->get(), "EdgeTrust TLS bench CA", ca_key->get(), nullptr, true, 1);
  if (!ca.ok()) {
    std::fprintf(stderr, "%s\n", ca.status().ToString().c_str());
    return 1;
  }

  // Per key kind: server and client identities in the secure domain and in PEM files.
  // pem_*: read in the shared library context (default provider and edgetrust), as the sd keys;
  // plain_*: the same files read in OpenSSL's default library context, without our provider.
  struct Identities {
    Identity sd_server, sd_client, pem_server, pem_client, plain_server, plain_client;
    Status status;  // why the kind's cells are n/a
  };
  std::vector<Identities> ids(std::size(kKinds));
  long serial = 100;
  const char* sd_provider = "?";
  for (size_t k = 0; k < std::size(kKinds); ++k) {
    Identities& id = ids[k];
    auto make = [&]() -> Status {
      for (auto [role, sd_id, pem_id, plain_id] :
           {std::tuple{"server", &id.sd_server, &id.pem_server, &id.plain_server},
            {"client", &id.sd_client, &id.pem_client, &id.plain_client}}) {
        const std::string name = std::string("tls-") + kKinds[k].metric + "-" + role;
        ET_RETURN_IF_ERROR(admin->CreateKey(name, kKinds[k].type).status());
        ET_ASSIGN_OR_RETURN(sd_id->key, edgetrust::provider::LoadKey(name, sd.socket()));
        ET_ASSIGN_OR_RETURN(std::string pub_pem, admin->PublicKeyPem(name));
        ET_ASSIGN_OR_RETURN(EvpPkeyPtr pub, PublicFromPem(pub_pem));
        ET_ASSIGN_OR_RETURN(sd_id->cert, Issue(pub.get(), std::string("sd ") + role, ca_key->get(),
                                               ca->get(), false, ++serial));
        const std::string file = dir.File(name + ".key.pem");
        ET_RETURN_IF_ERROR(WritePemKey(libctx, kKinds[k].type, file));
        ET_ASSIGN_OR_RETURN(pem_id->key, ReadPemKey(libctx, file));
        ET_ASSIGN_OR_RETURN(pem_id->cert, Issue(pem_id->key.get(), std::string("pem ") + role,
                                                ca_key->get(), ca->get(), false, ++serial));
        ET_ASSIGN_OR_RETURN(plain_id->key, ReadPemKey(nullptr, file));
        if (X509_up_ref(pem_id->cert.get()) != 1) return Failed("X509_up_ref");
        plain_id->cert.reset(pem_id->cert.get());
      }
      return Status::Ok();
    };
    id.status = make();
    if (id.status.ok() && k == 0) {
      const OSSL_PROVIDER* p = EVP_PKEY_get0_provider(id.sd_server.key.get());
      sd_provider = p != nullptr ? OSSL_PROVIDER_get0_name(p) : "(legacy)";
    }
  }

  std::printf(
      "EdgeTrust TLS benchmark: full TLS 1.3 handshakes (no resumption, no tickets), in-process "
      "libssl over a socketpair,\nserver key in edgetrust-sd (emulated backend, through the "
      "provider: keys' provider \"%s\") vs the same kind of key in a PEM file\n%s, %u cores, 1 "
      "thread driving both ends, %.1f s per cell and column in %d turns\n\n",
      sd_provider, OpenSSL_version(OPENSSL_VERSION_STRING), std::thread::hardware_concurrency(),
      o.seconds, kRounds);

  // The columns, in turns: sd, PEM (same library context), PEM in OpenSSL's default one.
  enum Column { kSdCol, kPemCol, kPlainCol, kColumns };
  constexpr const char* kMetricLabels[kColumns] = {"sd", "pem", "pem_defaultctx"};
  struct Row {
    size_t kind;
    bool mutual;
    Cell c[kColumns];
  };
  std::vector<Row> rows;
  std::vector<std::string> notes;
  for (size_t k = 0; k < std::size(kKinds); ++k) {
    for (bool mutual : {false, true}) {
      Row row{k, mutual, {}};
      const Identities& id = ids[k];
      if (!id.status.ok()) {
        for (Cell& c : row.c) c.note = id.status.ToString();
      } else {
        auto cells = edgetrust::bench::MeasureSideBySide(
            1, o.seconds, kRounds,
            {HandshakeOp(libctx, &id.sd_server, mutual ? &id.sd_client : nullptr, ca->get()),
             HandshakeOp(libctx, &id.pem_server, mutual ? &id.pem_client : nullptr, ca->get()),
             HandshakeOp(nullptr, &id.plain_server, mutual ? &id.plain_client : nullptr,
                         ca->get())});
        for (int c = 0; c < kColumns; ++c) row.c[c] = std::move(cells[c]);
      }
      rows.push_back(std::move(row));
    }
  }

  Table table({"server key", "auth", "sd hs/s", "p50", "p99", "PEM hs/s", "p50", "p99", "sd/PEM",
               "PEM (b) hs/s", "p50", "p99", "sd/PEM (b)"});
  for (const Row& r : rows) {
    std::vector<std::string> line = {r.mutual ? "" : kKinds[r.kind].title,
                                     r.mutual ? "mutual (a)" : "server"};
    for (int col = 0; col < kColumns; ++col) {
      const Cell& c = r.c[col];
      if (c.measured) {
        line.insert(line.end(), {Fixed(c.ops_per_s, 0), Fixed(c.p50_us, 0), Fixed(c.p99_us, 0)});
      } else {
        line.insert(line.end(), {"n/a", "", ""});
        const std::string note = std::string(kKinds[r.kind].title) + ": " + c.note;
        if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
      }
      if (col == kPemCol) line.push_back(Ratio(r.c[kSdCol], r.c[kPemCol]));
    }
    line.push_back(Ratio(r.c[kSdCol], r.c[kPlainCol]));
    table.Add(std::move(line));
  }
  table.Print();
  std::printf(
      "hs/s: full handshakes per second on the one measuring thread; p50/p99: one handshake, "
      "microseconds.\n"
      "sd: the key in edgetrust-sd, each signature a request over its Unix socket. PEM: a key of "
      "the same type read\n    from a PEM file, in the same library context as sd (default "
      "provider and edgetrust). PEM (b): the same\n    PEM file read in OpenSSL's default library "
      "context, without our provider: what a program gets that\n    does not use EdgeTrust at "
      "all.\n"
      "(a) mutual TLS: the client's key too is in the secure domain (sd) or a PEM file, of the "
      "same type as the\n    server's; the server requires and verifies the client's "
      "certificate.\n"
      "All columns: the same process, CA, certificates, cipher suite and key exchange (OpenSSL's "
      "defaults); the client\nverifies the server's chain and name.\n");
  for (const auto& n : notes) std::printf("n/a: %s\n", n.c_str());

  // The goal: a secure-domain key at >= 0.8x a PEM key, for ECDSA P-256; measured against a
  // program without EdgeTrust (PEM (b)), and against a PEM key beside the provider.
  Table goals({"goal", "target", "measured", "result"});
  for (const Row* r : {&rows[0], &rows[1]}) {
    for (int against : {kPlainCol, kPemCol}) {
      const std::string what = std::string("TLS 1.3 handshakes, ECDSA P-256, ") +
                               (r->mutual ? "mutual TLS" : "server auth") + ", sd vs " +
                               (against == kPlainCol ? "PEM (b)" : "PEM");
      const Cell& a = r->c[kSdCol];
      const Cell& b = r->c[against];
      if (!a.measured || !b.measured || b.ops_per_s <= 0) {
        goals.Add({what, ">= 0.80x", "n/a", "not measured"});
        continue;
      }
      const double ratio = a.ops_per_s / b.ops_per_s;
      goals.Add({what, ">= 0.80x", Fixed(ratio, 2) + "x", ratio >= 0.8 ? "met" : "MISSED"});
    }
  }
  std::printf("\n");
  goals.Print();

  std::printf("\n");
  for (const Row& r : rows) {
    const std::string suffix = std::string(kKinds[r.kind].metric) + (r.mutual ? "_mtls" : "");
    for (int col = 0; col < kColumns; ++col) {
      const Cell& c = r.c[col];
      if (!c.measured) continue;
      const std::string label = std::string(kMetricLabels[col]) + "_" + suffix;
      Metric("tls13_handshakes_per_s_" + label, c.ops_per_s, 0);
      Metric("tls13_handshake_p50_us_" + label, c.p50_us, 0);
      Metric("tls13_handshake_p99_us_" + label, c.p99_us, 0);
    }
    auto ratio = [&](const std::string& name, int against) {
      const Cell& a = r.c[kSdCol];
      const Cell& b = r.c[against];
      if (a.measured && b.measured && b.ops_per_s > 0)
        Metric(name + suffix, a.ops_per_s / b.ops_per_s, 3);
    };
    // sd vs a program without EdgeTrust, then vs a PEM key beside the provider.
    ratio("tls13_handshake_ratio_sd_vs_pem_", kPlainCol);
    ratio("tls13_handshake_ratio_sd_vs_pem_samectx_", kPemCol);
  }

  // Release every secure-domain key before the daemon goes.
  ids.clear();
  admin.reset();
  if (const int rc = sd.Stop(); rc != 0) {
    std::fprintf(stderr, "edgetrust-sd did not stop cleanly (exit %d):\n%s\n", rc,
                 sd.log().c_str());
    return 1;
  }
  return 0;
}

constexpr const char kUsage[] = "usage: tls_bench [--seconds S] [--help]\n";

constexpr const char kHelp[] =
    "\n"
    "TLS benchmark. Full TLS 1.3 handshakes per second (no resumption, no tickets), client and\n"
    "server in this process over a socketpair, with the server's key (and, for mutual TLS, the\n"
    "client's) in edgetrust-sd (emulated backend, started here in a temporary folder, keys loaded\n"
    "through the edgetrust provider) and, side by side, the same kind of key in a PEM file.\n"
    "Rows: ECDSA P-256, RSA-3072, Ed25519; server auth and mutual TLS. Prints a table, the goal\n"
    "(sd >= 0.8x PEM for P-256) and `metric NAME VALUE` lines. Run as root: the daemon drops to\n"
    "the user daemon.\n"
    "\n"
    "  --seconds S  time per table cell and column, split into 3 turns (default 2)\n"
    "  --help       this text\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("%s%s", kUsage, kHelp);
      return 0;
    }
  }
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  return Run(o);
}
