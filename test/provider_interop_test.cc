// The edgetrust OpenSSL provider with programs nobody here wrote: the stock openssl CLI (req,
// x509, s_server, s_client, pkey, genpkey) and the Mosquitto broker and clients, using keys held
// by the real edgetrust-sd on the emulated, pkcs11 (SoftHSM2) and tpm (swtpm; P-256 keys only)
// backends. Every verdict comes from those programs: a CSR's self-signature checked by
// `openssl req -verify`, a handshake's by `openssl s_client -verify_return_error`, a message
// arriving at `mosquitto_sub`.
//
// Certificates: a test CA made with the openssl CLI (its key a plain PEM file) signs CSRs that
// `openssl req -new -key edgetrust:NAME` makes from secure-domain keys.
//
// Every server (s_server, mosquitto) and subscriber runs as a ChildProcess on a free loopback
// port and is killed when the test ends, also when an assertion fails; every foreground command
// runs under timeout(1), so nothing hangs. No figure of time is asserted anywhere.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend_env.h"
#include "child_process.h"
#include "harness.h"
#include "mosquitto.h"
#include "openssl_conf.h"
#include "ports.h"

#ifndef EDGETRUST_PROVIDER_DIR
#error "EDGETRUST_PROVIDER_DIR (the folder of edgetrust.so) must be defined by the build"
#endif

namespace edgetrust::test {
namespace {

using std::chrono::seconds;

const std::string kProviderDir = EDGETRUST_PROVIDER_DIR;
const std::string kModule = kProviderDir + "/edgetrust.so";
// The openssl CLI's flags that load the module next to the default provider.
const std::vector<std::string> kProviderFlags = {"-provider-path", kProviderDir, "-provider",
                                                 "edgetrust",      "-provider",  "default"};
// Seconds any one foreground command may take before timeout(1) ends it (a hang, not a figure).
const std::string kCommandTimeout = "120";

const std::vector<std::string> kSigningTypes = {"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072"};

std::string Reversed(std::string s) {
  std::reverse(s.begin(), s.end());
  return s;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// What `openssl s_client` prints as "Peer signature type" for a server key of each type in TLS
// 1.3 (RSA keys sign RSA-PSS there).
std::string PeerSignatureType(const std::string& type) {
  if (type == "ed25519") return "ed25519";
  if (type == "rsa-3072") return "RSA-PSS";
  return "ECDSA";
}

// Runs `argv` with `env` ("NAME=value") added to the environment, under timeout(1).
std::vector<std::string> Wrapped(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env) {
  std::vector<std::string> full = {"env"};
  full.insert(full.end(), env.begin(), env.end());
  full.insert(full.end(), {"timeout", "-k", "5", kCommandTimeout});
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

// openssl s_server -rev -naccept 1: serves one connection, answering each line with the line
// reversed, until the client sends CLOSE; then it exits. Its stdout and stderr (the peer
// certificate, "Verification: OK") go to one log.
class SServer {
 public:
  SServer(const TempDir& dir, const std::string& name) : dir_(dir), name_(name) {}

  bool Start(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = PickLoopbackPort();
      if (port_ <= 0) return false;
      // A log of its own for every server started (their output is awaited).
      static int started = 0;
      log_ = dir_.File(name_ + "-" + std::to_string(++started) + ".log");
      std::vector<std::string> argv = {
          "openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port_),
          "-rev",    "-naccept", "1"};
      argv.insert(argv.end(), args.begin(), args.end());
      if (!process_.Start(argv, log_, env)) return false;
      if (process_.WaitForOutput("ACCEPT", seconds(60))) return true;
      process_.Kill();
      // Another server took the port between picking and binding: pick again.
      if (!Contains(output(), "Address already in use")) return false;
    }
    return false;
  }
  int port() const { return port_; }
  std::string output() const { return ReadText(log_); }
  // Waits for the server to exit after its one connection; its exit code, or nullopt (it is then
  // killed) when it did not exit.
  std::optional<int> Finish() {
    auto rc = process_.Wait(seconds(60));
    if (!rc.has_value()) process_.Kill();
    return rc;
  }

 private:
  const TempDir& dir_;
  std::string name_;
  std::string log_;
  int port_ = 0;
  ChildProcess process_;
};

class ProviderInteropTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(kModule.c_str(), R_OK), 0) << kModule << " was not built";
    env_ = std::make_unique<BackendEnv>(dir_, GetParam());
    ASSERT_TRUE(env_->Start()) << env_->error();
    sd_ = std::make_unique<SdProcess>(dir_, env_->DaemonOptions());
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    auto info = RunCli(sd_->socket(), {"--json", "info"});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto json = nlohmann::json::parse(info.out);
    for (const auto& s : json.at("supported")) supported_.push_back(s.get<std::string>());
    // The test CA and a second, unrelated one; their keys are plain PEM files.
    MakeCa("ca", "/CN=EdgeTrust Test CA");
    MakeCa("other-ca", "/CN=Some Other CA");
    WriteText(F("server.ext"),
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    WriteText(F("client.ext"), "extendedKeyUsage=clientAuth\n");
  }

  void TearDown() override {
    if (sd_) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }

  std::string F(const std::string& name) const { return dir_.File(name); }
  const std::string& Socket() const { return sd_->socket(); }
  std::string SocketEnv() const { return "EDGETRUST_SOCKET=" + Socket(); }

  // The signing key types this backend runs here: the ones `edgetrust info` lists, of the four;
  // on tpm only P-256 (Ed25519 is not a TPM algorithm; the other types' TPM key generation makes
  // the suite slow without testing more of the provider).
  std::vector<std::string> Types() const {
    std::vector<std::string> types;
    for (const auto& t : kSigningTypes) {
      if (GetParam() == "tpm" && t != "ecdsa-p256") continue;
      if (Supports(t)) types.push_back(t);
    }
    return types;
  }
  bool Supports(const std::string& type) const {
    return std::find(supported_.begin(), supported_.end(), "key-type:" + type) != supported_.end();
  }

  // The openssl CLI with the provider loaded by flags (after the subcommand) and the daemon's
  // socket in $EDGETRUST_SOCKET.
  CommandResult Openssl(const std::string& command, std::vector<std::string> args,
                        const std::string& input = "") {
    std::vector<std::string> argv = {"openssl", command};
    argv.insert(argv.end(), kProviderFlags.begin(), kProviderFlags.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(Wrapped(argv, {SocketEnv()}), input);
  }
  // The stock openssl CLI without our provider.
  CommandResult PlainOpenssl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), "openssl");
    return RunCommand(Wrapped(args, {}), input);
  }

  void MakeCa(const std::string& name, const std::string& subject) {
    auto r = PlainOpenssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-keyout", F(name + ".key"), "-out", F(name + ".pem"), "-subj",
                           subject, "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
                           "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void CreateKey(const std::string& name, const std::string& type) {
    auto r = RunCli(Socket(), {"key", "create", name, "--type", type});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // The key's public half as the daemon exports it, normalised by openssl.
  std::string DaemonPublicKey(const std::string& name) {
    auto pub = RunCli(Socket(), {"key", "public", name});
    EXPECT_EQ(pub.exit_code, 0) << pub.err;
    auto norm = PlainOpenssl({"pkey", "-pubin", "-pubout"}, pub.out);
    EXPECT_EQ(norm.exit_code, 0) << norm.err;
    return norm.out;
  }

  // Checks a CSR's self-signature with the plain openssl CLI, and that it carries the public key
  // of secure-domain key `name`.
  void ExpectCsrOfKey(const std::string& csr, const std::string& name) {
    auto v = PlainOpenssl({"req", "-verify", "-in", csr, "-noout"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_TRUE(Contains(v.out + v.err, "verify OK")) << v.out << v.err;
    auto pub = PlainOpenssl({"req", "-in", csr, "-noout", "-pubkey"});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    EXPECT_EQ(pub.out, DaemonPublicKey(name)) << "the CSR does not carry the key's public key";
  }

  // The test CA's certificate for the CSR in `csr`, written to `cert`.
  void Sign(const std::string& csr, const std::string& cert, const std::string& ext,
            const std::string& ca = "ca") {
    auto r = PlainOpenssl({"x509", "-req", "-in", csr, "-CA", F(ca + ".pem"), "-CAkey",
                           F(ca + ".key"), "-set_serial", std::to_string(++serial_), "-days", "2",
                           "-extfile", F(ext), "-out", cert});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A certificate of the test CA for secure-domain key `name`: CSR made through the provider,
  // checked, signed. Writes NAME.csr and NAME.pem.
  void CertifySdKey(const std::string& name, const std::string& subject, const std::string& ext) {
    auto r = Openssl(
        "req", {"-new", "-key", "edgetrust:" + name, "-subj", subject, "-out", F(name + ".csr")});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_NO_FATAL_FAILURE(ExpectCsrOfKey(F(name + ".csr"), name));
    ASSERT_NO_FATAL_FAILURE(Sign(F(name + ".csr"), F(name + ".pem"), ext));
  }

  // A plain PEM key (generated by openssl) with a certificate of CA `ca`: NAME.key, NAME.pem.
  void CertifyPemKey(const std::string& name, const std::string& subject, const std::string& ext,
                     const std::string& ca = "ca") {
    auto g = PlainOpenssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-out", F(name + ".key")});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    auto r = PlainOpenssl(
        {"req", "-new", "-key", F(name + ".key"), "-subj", subject, "-out", F(name + ".csr")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_NO_FATAL_FAILURE(Sign(F(name + ".csr"), F(name + ".pem"), ext, ca));
  }

  // The PEM form of "edgetrust:NAME": the URI in base64 (by the openssl CLI) between
  // BEGIN/END EDGETRUST KEY lines, as src/provider/key_uri.h specifies. Written to `path`, 0644.
  void WriteKeyPem(const std::string& path, const std::string& uri) {
    auto b64 = PlainOpenssl({"base64"}, uri);
    ASSERT_EQ(b64.exit_code, 0) << b64.err;
    WriteText(path, "-----BEGIN EDGETRUST KEY-----\n" + b64.out + "-----END EDGETRUST KEY-----\n");
  }

  // One TLS connection: `server` started with `server_args`, s_client with `client_args` sends
  // `message` and CLOSE, and must read the message reversed. Returns s_client's result; the
  // server's log is in server.output().
  CommandResult Connect(SServer& server, const std::vector<std::string>& client_args,
                        const std::string& message,
                        const std::vector<std::string>& client_env = {}) {
    std::vector<std::string> argv = {
        "openssl",          "s_client",
        "-connect",         "127.0.0.1:" + std::to_string(server.port()),
        "-verify_hostname", "localhost",
        "-CAfile",          F("ca.pem"),
        "-ign_eof",         "-verify_return_error"};
    argv.insert(argv.end(), client_args.begin(), client_args.end());
    return RunCommand(Wrapped(argv, client_env), message + "\nCLOSE\n");
  }

  // An s_server with `server_key_args` (-key edgetrust:NAME, or -key FILE), certificate `cert`
  // and protocol flag `version` (-tls1_3, -tls1_2), reached by s_client with `client_extra`:
  // checks the verified chain, the protocol, the server's signature type and the echo. Returns
  // s_client's stdout.
  std::string ExpectHandshake(const std::vector<std::string>& server_key_args,
                              const std::string& cert, const std::string& version,
                              const std::vector<std::string>& client_extra,
                              const std::string& expect_sigtype) {
    SServer server(dir_, "s_server");
    std::vector<std::string> args = {"-cert", cert, version};
    args.insert(args.end(), server_key_args.begin(), server_key_args.end());
    args.insert(args.end(), kProviderFlags.begin(), kProviderFlags.end());
    if (!server.Start(args, {SocketEnv()})) {
      ADD_FAILURE() << "s_server did not start:\n" << server.output();
      return "";
    }
    std::vector<std::string> client = {version};
    client.insert(client.end(), client_extra.begin(), client_extra.end());
    const std::string message = "edgetrust interop " + GetParam();
    auto c = Connect(server, client, message);
    const auto server_rc = server.Finish();
    const std::string context = "s_client:\n" + c.out + c.err + "\ns_server:\n" + server.output();
    EXPECT_EQ(c.exit_code, 0) << context;
    EXPECT_TRUE(Contains(c.out, "Verification: OK")) << context;
    const std::string protocol = version == "-tls1_2" ? "TLSv1.2" : "TLSv1.3";
    EXPECT_TRUE(Contains(c.out, "Protocol  : " + protocol)) << context;
    EXPECT_TRUE(Contains(c.out, "Peer signature type: " + expect_sigtype + "\n")) << context;
    EXPECT_TRUE(Contains(c.out, Reversed(message))) << "no echo\n" << context;
    EXPECT_EQ(server_rc, std::optional<int>(0)) << context;
    return c.out;
  }

  TempDir dir_;
  std::unique_ptr<BackendEnv> env_;
  std::unique_ptr<SdProcess> sd_;
  std::vector<std::string> supported_;
  int serial_ = 1000;
};

// --- openssl req ------------------------------------------------------------------------------

TEST_P(ProviderInteropTest, CsrFromSecureDomainKeyVerifies) {
  const auto types = Types();
  ASSERT_FALSE(types.empty());
  if (GetParam() == "emulated") {
    EXPECT_EQ(types, kSigningTypes) << "the emulated backend offers all four signing types";
  }
  std::string run;
  for (const auto& t : types) run += " " + t;
  RecordProperty("key_types", run);
  for (const auto& type : types) {
    SCOPED_TRACE(type);
    const std::string name = "csr-" + type;
    ASSERT_NO_FATAL_FAILURE(CreateKey(name, type));
    auto r = Openssl("req", {"-new", "-key", "edgetrust:" + name, "-subj",
                             "/CN=" + name + "/O=EdgeTrust Test", "-out", F(name + ".csr")});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ExpectCsrOfKey(F(name + ".csr"), name);
    auto text = PlainOpenssl({"req", "-in", F(name + ".csr"), "-noout", "-subject"});
    EXPECT_TRUE(Contains(text.out, "CN = " + name)) << text.out;
  }
}

// --- openssl s_server / s_client ------------------------------------------------------------

TEST_P(ProviderInteropTest, TlsServerKeyInSecureDomain) {
  for (const auto& type : Types()) {
    SCOPED_TRACE(type);
    const std::string name = "server-" + type;
    ASSERT_NO_FATAL_FAILURE(CreateKey(name, type));
    ASSERT_NO_FATAL_FAILURE(CertifySdKey(name, "/CN=localhost", "server.ext"));
    ExpectHandshake({"-key", "edgetrust:" + name}, F(name + ".pem"), "-tls1_3", {},
                    PeerSignatureType(type));
  }
}

TEST_P(ProviderInteropTest, Tls12RsaPkcs1) {
  if (!Supports("rsa-3072") || GetParam() == "tpm") GTEST_SKIP() << "rsa-3072 not run here";
  ASSERT_NO_FATAL_FAILURE(CreateKey("rsa", "rsa-3072"));
  ASSERT_NO_FATAL_FAILURE(CertifySdKey("rsa", "/CN=localhost", "server.ext"));
  ExpectHandshake({"-key", "edgetrust:rsa"}, F("rsa.pem"), "-tls1_2",
                  {"-sigalgs", "rsa_pkcs1_sha256"}, "RSA");
}

TEST_P(ProviderInteropTest, MutualTlsBothKeysInSecureDomain) {
  ASSERT_NO_FATAL_FAILURE(CreateKey("server", "ecdsa-p256"));
  ASSERT_NO_FATAL_FAILURE(CertifySdKey("server", "/CN=localhost", "server.ext"));
  // The client's key is P-256 too on tpm; elsewhere another type, so both sides' algorithms
  // differ.
  const std::string client_type =
      GetParam() != "tpm" && Supports("ecdsa-p384") ? "ecdsa-p384" : "ecdsa-p256";
  ASSERT_NO_FATAL_FAILURE(CreateKey("client", client_type));
  ASSERT_NO_FATAL_FAILURE(
      CertifySdKey("client", "/CN=gateway-7/O=EdgeTrust Test/OU=interop", "client.ext"));

  SServer server(dir_, "s_server-mtls");
  std::vector<std::string> args = {
      "-cert", F("server.pem"), "-key",      "edgetrust:server",    "-tls1_3", "-Verify",
      "1",     "-CAfile",       F("ca.pem"), "-verify_return_error"};
  args.insert(args.end(), kProviderFlags.begin(), kProviderFlags.end());
  ASSERT_TRUE(server.Start(args, {SocketEnv()})) << server.output();
  std::vector<std::string> client = {"-tls1_3", "-cert", F("client.pem"), "-key",
                                     "edgetrust:client"};
  client.insert(client.end(), kProviderFlags.begin(), kProviderFlags.end());
  auto c = Connect(server, client, "mutual", {SocketEnv()});
  const auto server_rc = server.Finish();
  const std::string log = server.output();
  const std::string context = "s_client:\n" + c.out + c.err + "\ns_server:\n" + log;
  EXPECT_EQ(c.exit_code, 0) << context;
  EXPECT_TRUE(Contains(c.out, "Verification: OK")) << context;
  EXPECT_TRUE(Contains(c.out, "Protocol  : TLSv1.3")) << context;
  EXPECT_TRUE(Contains(c.out, Reversed("mutual"))) << context;
  // The server verified the client's certificate, and names its subject.
  EXPECT_TRUE(Contains(log, "Peer certificate: CN = gateway-7, O = EdgeTrust Test, OU = interop"))
      << context;
  EXPECT_TRUE(Contains(log, "Verification: OK")) << context;
  EXPECT_TRUE(Contains(log, "Signature type: ECDSA")) << context;
  EXPECT_EQ(server_rc, std::optional<int>(0)) << context;
}

TEST_P(ProviderInteropTest, MutualTlsRefusesClientWithoutCertificate) {
  ASSERT_NO_FATAL_FAILURE(CreateKey("server", "ecdsa-p256"));
  ASSERT_NO_FATAL_FAILURE(CertifySdKey("server", "/CN=localhost", "server.ext"));
  SServer server(dir_, "s_server-nocert");
  std::vector<std::string> args = {
      "-cert", F("server.pem"), "-key",      "edgetrust:server",    "-tls1_3", "-Verify",
      "1",     "-CAfile",       F("ca.pem"), "-verify_return_error"};
  args.insert(args.end(), kProviderFlags.begin(), kProviderFlags.end());
  ASSERT_TRUE(server.Start(args, {SocketEnv()})) << server.output();
  auto c = Connect(server, {"-tls1_3"}, "nobody");
  const auto server_rc = server.Finish();
  const std::string context = "s_client:\n" + c.out + c.err + "\ns_server:\n" + server.output();
  EXPECT_FALSE(Contains(c.out, Reversed("nobody"))) << context;
  EXPECT_TRUE(Contains(server.output(), "peer did not return a certificate")) << context;
  EXPECT_TRUE(server_rc.has_value()) << context;
}

TEST_P(ProviderInteropTest, PemFormKeyFileServesTls) {
  ASSERT_NO_FATAL_FAILURE(CreateKey("ref", "ecdsa-p256"));
  ASSERT_NO_FATAL_FAILURE(CertifySdKey("ref", "/CN=localhost", "server.ext"));
  ASSERT_NO_FATAL_FAILURE(WriteKeyPem(F("ref.key.pem"), "edgetrust:ref"));
  // The reference decodes to the secure-domain key: its public half is the daemon's.
  auto pub = Openssl("pkey", {"-in", F("ref.key.pem"), "-pubout"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, DaemonPublicKey("ref"));
  ExpectHandshake({"-key", F("ref.key.pem")}, F("ref.pem"), "-tls1_3", {}, "ECDSA");
  // The file holds a name, never key material.
  EXPECT_FALSE(Contains(ReadText(F("ref.key.pem")), "PRIVATE KEY"));
}

// openssl pkey -out, asked for the private key, writes the key's reference; that file then works
// as a key file, which is how an operator makes one with stock tools.
TEST_P(ProviderInteropTest, PkeyOutWritesTheReferenceOnly) {
  ASSERT_NO_FATAL_FAILURE(CreateKey("out", "ecdsa-p256"));
  auto w = Openssl("pkey", {"-in", "edgetrust:out", "-out", F("out.key.pem")});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  const std::string text = ReadText(F("out.key.pem"));
  EXPECT_TRUE(Contains(text, "-----BEGIN EDGETRUST KEY-----")) << text;
  EXPECT_FALSE(Contains(text, "PRIVATE KEY")) << text;
  auto pub = Openssl("pkey", {"-in", F("out.key.pem"), "-pubout"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, DaemonPublicKey("out"));
  // DER has no reference form: nothing is written.
  auto der = Openssl("pkey", {"-in", "edgetrust:out", "-outform", "DER", "-out", F("out.der")});
  EXPECT_NE(der.exit_code, 0);
  EXPECT_TRUE(ReadText(F("out.der")).empty());
}

// --- mosquitto --------------------------------------------------------------------------------

// A mosquitto_sub that waits for one message on its topic (-C 1), in the background, with client
// id `name`. Its stdout is a file, so it prints only when it exits; the broker's log says when it
// subscribed.
class Subscriber {
 public:
  Subscriber(const TempDir& dir, std::string name)
      : name_(std::move(name)), log_(dir.File(name_ + ".log")) {}
  // Connects and subscribes; true once `broker` acknowledged the subscription.
  bool Start(MosquittoProcess& broker, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"mosquitto_sub", "-d", "-i", name_, "-C", "1", "-W", "120"};
    argv.insert(argv.end(), args.begin(), args.end());
    return process_.Start(argv, log_) &&
           broker.WaitForLog("Sending SUBACK to " + name_, seconds(60));
  }
  // Waits for it to exit (after its one message); its exit code, or nullopt.
  std::optional<int> Finish() {
    auto rc = process_.Wait(seconds(130));
    if (!rc.has_value()) process_.Kill();
    return rc;
  }
  std::string output() const { return ReadText(log_); }

 private:
  std::string name_;
  std::string log_;
  ChildProcess process_;
};

// The message lines a finished subscriber printed (its -d debug lines left out).
std::vector<std::string> Messages(const std::string& output) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    if (!line.empty() && line.rfind("Client ", 0) != 0 && line.rfind("Subscribed ", 0) != 0) {
      lines.push_back(line);
    }
    start = end + 1;
  }
  return lines;
}

TEST_P(ProviderInteropTest, MosquittoAcceptsClientKeyInSecureDomain) {
  ASSERT_TRUE(MosquittoProcess::Available()) << "mosquitto is not installed";
  // The broker: plain PEM server key, client certificates of the test CA required.
  ASSERT_NO_FATAL_FAILURE(CertifyPemKey("broker", "/CN=localhost", "server.ext"));
  // The subscriber: a plain PEM client key. The publisher: a secure-domain key, given to
  // mosquitto_pub as a PEM-form key file, the provider activated by OPENSSL_CONF only.
  ASSERT_NO_FATAL_FAILURE(CertifyPemKey("sub", "/CN=subscriber", "client.ext"));
  ASSERT_NO_FATAL_FAILURE(CreateKey("pub", "ecdsa-p256"));
  ASSERT_NO_FATAL_FAILURE(CertifySdKey("pub", "/CN=sensor-publisher", "client.ext"));
  ASSERT_NO_FATAL_FAILURE(WriteKeyPem(F("pub.key.pem"), "edgetrust:pub"));
  // And a client of another CA, whose key is a plain PEM file.
  ASSERT_NO_FATAL_FAILURE(CertifyPemKey("stranger", "/CN=stranger", "client.ext", "other-ca"));
  const std::string conf = WriteProviderOpensslConf(F("openssl-provider.cnf"), kModule, Socket());

  MosquittoProcess::Options options;
  MosquittoProcess::Listener l;
  l.cafile = F("ca.pem");
  l.certfile = F("broker.pem");
  l.keyfile = F("broker.key");
  l.require_certificate = true;
  l.tls_version = "tlsv1.3";
  options.listeners = {l};
  MosquittoProcess broker(dir_, options);
  // The broker reads its key file as its own user (mosquitto.h): give it the file.
  ASSERT_EQ(::chown(F("broker.key").c_str(), broker.uid(), broker.gid()), 0);
  ASSERT_TRUE(broker.Start()) << broker.log();
  const std::string port = std::to_string(broker.port());
  const std::vector<std::string> common = {"-h",       "127.0.0.1", "-p", port,
                                           "--cafile", F("ca.pem"), "-t", "edgetrust/interop"};

  Subscriber sub(dir_, "sub");
  std::vector<std::string> sub_args = common;
  sub_args.insert(sub_args.end(), {"--cert", F("sub.pem"), "--key", F("sub.key")});
  ASSERT_TRUE(sub.Start(broker, sub_args)) << sub.output() << broker.log();

  auto publish = [&](const std::string& message, const std::vector<std::string>& credentials,
                     const std::vector<std::string>& env) {
    std::vector<std::string> argv = {"mosquitto_pub", "-q", "1", "-m", message};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), credentials.begin(), credentials.end());
    return RunCommand(Wrapped(argv, env));
  };
  // Refused: no certificate, and a certificate of another CA. Each publish would be delivered
  // before the next one, so the subscriber's one message below shows neither arrived.
  auto none = publish("from nobody", {}, {});
  EXPECT_NE(none.exit_code, 0) << none.out << none.err;
  auto stranger =
      publish("from a stranger", {"--cert", F("stranger.pem"), "--key", F("stranger.key")}, {});
  EXPECT_NE(stranger.exit_code, 0) << stranger.out << stranger.err;
  // Accepted: the secure-domain key.
  auto ok = publish("from the secure domain", {"--cert", F("pub.pem"), "--key", F("pub.key.pem")},
                    {"OPENSSL_CONF=" + conf});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err << broker.log();

  const auto sub_rc = sub.Finish();
  EXPECT_EQ(sub_rc, std::optional<int>(0)) << sub.output();
  EXPECT_EQ(Messages(sub.output()), std::vector<std::string>{"from the secure domain"})
      << sub.output();
  // The broker refused the first two in the TLS handshake.
  const std::string log = broker.log();
  EXPECT_TRUE(Contains(log, "peer did not return a certificate")) << log;
  EXPECT_TRUE(Contains(log, "certificate verify failed")) << log;
  EXPECT_EQ(broker.Stop(), 0) << broker.log();
}

TEST_P(ProviderInteropTest, MosquittoServerKeyInSecureDomain) {
  ASSERT_TRUE(MosquittoProcess::Available()) << "mosquitto is not installed";
  MosquittoProcess::Options options;
  MosquittoProcess::Listener l;
  l.certfile = F("broker.pem");
  l.keyfile = F("broker.key.pem");
  l.tls_version = "tlsv1.3";
  options.listeners = {l};
  options.env = {"OPENSSL_CONF=" + F("openssl-provider.cnf")};
  MosquittoProcess broker(dir_, options);
  ASSERT_NE(broker.uid(), static_cast<uid_t>(-1)) << "no user mosquitto";

  // The broker reads its key after switching to its own user (mosquitto.h): the key belongs to
  // that user's principal, so that user creates it and makes the CSR.
  auto as_broker = [&](const std::vector<std::string>& argv) {
    return broker.uid() == ::geteuid() ? RunCommand(argv)
                                       : RunCommandAs(broker.uid(), broker.gid(), argv);
  };
  auto created = as_broker(
      {CliBinary(), "--socket", Socket(), "key", "create", "broker", "--type", "ecdsa-p256"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  // The socket given in the URI this time (the PEM form below takes it from openssl.cnf).
  std::vector<std::string> req = {"openssl", "req"};
  req.insert(req.end(), kProviderFlags.begin(), kProviderFlags.end());
  req.insert(req.end(), {"-new", "-key", "edgetrust:broker?socket=" + Socket(), "-subj",
                         "/CN=localhost/O=EdgeTrust Test Broker"});
  auto csr = as_broker(Wrapped(req, {}));
  ASSERT_EQ(csr.exit_code, 0) << csr.err;
  WriteText(F("broker.csr"), csr.out);
  ASSERT_NO_FATAL_FAILURE(Sign(F("broker.csr"), F("broker.pem"), "server.ext"));
  // The test's own principal has no key of that name: the broker cannot have used it by mistake.
  EXPECT_NE(RunCli(Socket(), {"key", "public", "broker"}).exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(WriteKeyPem(F("broker.key.pem"), "edgetrust:broker"));
  WriteProviderOpensslConf(F("openssl-provider.cnf"), kModule, Socket());

  ASSERT_TRUE(broker.Start()) << broker.log();
  const std::string port = std::to_string(broker.port());
  const std::vector<std::string> common = {"-h",       "127.0.0.1", "-p", port,
                                           "--cafile", F("ca.pem"), "-t", "edgetrust/broker"};
  Subscriber sub(dir_, "sub");
  ASSERT_TRUE(sub.Start(broker, common)) << sub.output() << broker.log();
  std::vector<std::string> pub = {"mosquitto_pub", "-q", "1", "-m", "served by the secure domain"};
  pub.insert(pub.end(), common.begin(), common.end());
  auto r = RunCommand(Wrapped(pub, {}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << broker.log();
  EXPECT_EQ(sub.Finish(), std::optional<int>(0)) << sub.output();
  EXPECT_EQ(Messages(sub.output()), std::vector<std::string>{"served by the secure domain"})
      << sub.output();

  // A client that trusts another CA refuses the broker.
  std::vector<std::string> wary = {
      "mosquitto_pub",   "-q", "1",  "-m",       "never",           "-h",
      "127.0.0.1",       "-p", port, "--cafile", F("other-ca.pem"), "-t",
      "edgetrust/broker"};
  auto refused = RunCommand(Wrapped(wary, {}));
  EXPECT_NE(refused.exit_code, 0) << refused.out << refused.err;
  EXPECT_EQ(broker.Stop(), 0) << broker.log();
}

// --- ordinary OpenSSL use and errors ----------------------------------------------------------

TEST_P(ProviderInteropTest, OrdinaryOpensslUnharmedWithProviderConfigured) {
  const std::string conf = WriteProviderOpensslConf(F("openssl-provider.cnf"), kModule, Socket());
  const std::vector<std::string> env = {"OPENSSL_CONF=" + conf};
  auto run = [&](std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), "openssl");
    return RunCommand(Wrapped(args, env), input);
  };
  // The configuration really loads both providers.
  auto list = run({"list", "-providers"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, "edgetrust")) << list.out;
  EXPECT_TRUE(Contains(list.out, "default")) << list.out;

  auto gen = run({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                  F("plain.key")});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto check = run({"pkey", "-in", F("plain.key"), "-noout", "-check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  WriteText(F("data.txt"), "ordinary data\n");
  auto sig =
      run({"dgst", "-sha256", "-sign", F("plain.key"), "-out", F("data.sig"), F("data.txt")});
  ASSERT_EQ(sig.exit_code, 0) << sig.err;
  auto pub = run({"pkey", "-in", F("plain.key"), "-pubout", "-out", F("plain.pub")});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  auto verify = run(
      {"dgst", "-sha256", "-verify", F("plain.pub"), "-signature", F("data.sig"), F("data.txt")});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_TRUE(Contains(verify.out, "Verified OK")) << verify.out;

  // A plain-PEM-key TLS server and client, both under the same configuration.
  auto csr = run(
      {"req", "-new", "-key", F("plain.key"), "-subj", "/CN=localhost", "-out", F("plain.csr")});
  ASSERT_EQ(csr.exit_code, 0) << csr.err;
  ASSERT_NO_FATAL_FAILURE(Sign(F("plain.csr"), F("plain.pem"), "server.ext"));
  SServer server(dir_, "s_server-plain");
  ASSERT_TRUE(server.Start({"-cert", F("plain.pem"), "-key", F("plain.key"), "-tls1_3"}, env))
      << server.output();
  auto c = Connect(server, {"-tls1_3"}, "plain pem", env);
  const auto server_rc = server.Finish();
  const std::string context = "s_client:\n" + c.out + c.err + "\ns_server:\n" + server.output();
  EXPECT_EQ(c.exit_code, 0) << context;
  EXPECT_TRUE(Contains(c.out, "Verification: OK")) << context;
  EXPECT_TRUE(Contains(c.out, Reversed("plain pem"))) << context;
  EXPECT_EQ(server_rc, std::optional<int>(0)) << context;
}

TEST_P(ProviderInteropTest, MissingKeyIsAClearError) {
  auto r = Openssl("pkey", {"-in", "edgetrust:nope", "-noout"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // The daemon's answer, through the provider's error queue: "edgetrust: not-found: key 'nope':
  // ...".
  EXPECT_TRUE(Contains(r.err, "edgetrust: not-found: key 'nope'")) << r.err;
  // The same with the provider activated by openssl.cnf only.
  const std::string conf = WriteProviderOpensslConf(F("openssl-provider.cnf"), kModule, Socket());
  auto by_conf = RunCommand(
      Wrapped({"openssl", "pkey", "-in", "edgetrust:nope", "-noout"}, {"OPENSSL_CONF=" + conf}));
  EXPECT_EQ(by_conf.exit_code, 1) << by_conf.out << by_conf.err;
  EXPECT_TRUE(Contains(by_conf.err, "edgetrust: not-found: key 'nope'")) << by_conf.err;
  // The PEM form of a missing key: the same answer, and the file named.
  ASSERT_NO_FATAL_FAILURE(WriteKeyPem(F("nope.key.pem"), "edgetrust:nope"));
  auto pem = RunCommand(
      Wrapped({"openssl", "pkey", "-in", F("nope.key.pem"), "-noout"}, {"OPENSSL_CONF=" + conf}));
  EXPECT_EQ(pem.exit_code, 1) << pem.out << pem.err;
  EXPECT_TRUE(Contains(pem.err, F("nope.key.pem"))) << pem.err;
  EXPECT_TRUE(Contains(pem.err, "edgetrust: not-found: key 'nope'")) << pem.err;
}

TEST_P(ProviderInteropTest, UnreachableDaemonIsAClearError) {
  const std::string nowhere = F("run/not-there.sock");
  auto r = RunCommand(
      Wrapped({"openssl", "pkey", "-provider-path", kProviderDir, "-provider", "edgetrust",
               "-provider", "default", "-in", "edgetrust:anything", "-noout"},
              {"EDGETRUST_SOCKET=" + nowhere}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "edgetrust: unavailable:")) << r.err;
  EXPECT_TRUE(Contains(r.err, nowhere)) << r.err;
  // The socket of openssl.cnf, with the daemon stopped.
  const std::string conf = WriteProviderOpensslConf(F("openssl-provider.cnf"), kModule, Socket());
  ASSERT_NO_FATAL_FAILURE(WriteKeyPem(F("any.key.pem"), "edgetrust:anything"));
  const std::string socket = Socket();
  ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
  sd_.reset();
  auto by_conf = RunCommand(Wrapped({"openssl", "pkey", "-in", "edgetrust:anything", "-noout"},
                                    {"OPENSSL_CONF=" + conf}));
  EXPECT_EQ(by_conf.exit_code, 1) << by_conf.out << by_conf.err;
  EXPECT_TRUE(Contains(by_conf.err, "edgetrust: unavailable:")) << by_conf.err;
  EXPECT_TRUE(Contains(by_conf.err, socket)) << by_conf.err;
  // The PEM form: the same answer.
  auto pem = RunCommand(
      Wrapped({"openssl", "pkey", "-in", F("any.key.pem"), "-noout"}, {"OPENSSL_CONF=" + conf}));
  EXPECT_EQ(pem.exit_code, 1) << pem.out << pem.err;
  EXPECT_TRUE(Contains(pem.err, "edgetrust: unavailable:")) << pem.err;
  EXPECT_TRUE(Contains(pem.err, socket)) << pem.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, ProviderInteropTest,
                         ::testing::Values("emulated", "pkcs11", "tpm"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace edgetrust::test
