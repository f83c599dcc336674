// Device identity and certificate lifecycle end to end: the real edgetrust-sd (emulated and a
// SoftHSM2 token), the edgetrust CLI, and every result checked with tools nobody here wrote:
// `openssl verify`, `openssl x509 -ext`, `openssl req -verify`, `openssl s_server`/`s_client`,
// and Python's `cryptography` (through /usr/bin/python3) for extension values.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend_env.h"
#include "cli_expect.h"
#include "harness.h"
#include "ports.h"

namespace edgetrust::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kPython[] = "/usr/bin/python3";

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

int FreePort() { return PickLoopbackPort(); }
bool PortAccepts(int port) { return LoopbackAccepts(port); }

// A process running in the background (openssl s_server), output to a log file, stopped by pid.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log) : log_(log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = ::open("/dev/null", O_RDONLY);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  // Waits (a bounded number of tries) until `port` accepts, or the process is gone.
  bool WaitForPort(int port) const {
    for (int i = 0; i < 400; ++i) {
      if (PortAccepts(port)) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string log() const { return ReadText(log_); }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// Reads a certificate with Python's cryptography and prints what the tests assert on.
constexpr char kDescribeCert[] = R"PY(
import json, sys
from datetime import timezone
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.hazmat.primitives import serialization
c = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
def ext(cls):
    try:
        return c.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None
out = {'subject': c.subject.rfc4514_string(), 'issuer': c.issuer.rfc4514_string(),
       'serial': str(c.serial_number), 'serial_bits': c.serial_number.bit_length(),
       'version': c.version.name,
       'not_before': int(c.not_valid_before.replace(tzinfo=timezone.utc).timestamp()),
       'not_after': int(c.not_valid_after.replace(tzinfo=timezone.utc).timestamp())}
bc = ext(x509.BasicConstraints)
if bc:
    out['bc'] = {'critical': bc.critical, 'ca': bc.value.ca, 'pathlen': bc.value.path_length}
ku = ext(x509.KeyUsage)
if ku:
    v = ku.value
    out['ku'] = {'critical': ku.critical, 'digital_signature': v.digital_signature,
                 'key_encipherment': v.key_encipherment, 'key_cert_sign': v.key_cert_sign,
                 'crl_sign': v.crl_sign, 'content_commitment': v.content_commitment}
eku = ext(x509.ExtendedKeyUsage)
if eku:
    out['eku'] = {'critical': eku.critical,
                  'server': ExtendedKeyUsageOID.SERVER_AUTH in eku.value,
                  'client': ExtendedKeyUsageOID.CLIENT_AUTH in eku.value,
                  'count': len(list(eku.value))}
san = ext(x509.SubjectAlternativeName)
if san:
    out['san'] = {'critical': san.critical,
                  'dns': san.value.get_values_for_type(x509.DNSName),
                  'ip': [str(i) for i in san.value.get_values_for_type(x509.IPAddress)],
                  'uri': san.value.get_values_for_type(x509.UniformResourceIdentifier)}
ski = ext(x509.SubjectKeyIdentifier)
if ski:
    out['ski'] = ski.value.digest.hex()
aki = ext(x509.AuthorityKeyIdentifier)
if aki:
    out['aki'] = aki.value.key_identifier.hex() if aki.value.key_identifier else ''
print(json.dumps(out))
)PY";

// Makes a certificate signed by an openssl-made CA, with a validity in the past or the future.
constexpr char kMakeCert[] = R"PY(
import sys, datetime, ipaddress
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
ca_cert = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
ca_key = serialization.load_pem_private_key(open(sys.argv[2], 'rb').read(), None)
start_days, end_days, eku, out_cert, out_key = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.utcnow()
usage = ExtendedKeyUsageOID.SERVER_AUTH if eku == 'server' else ExtendedKeyUsageOID.CLIENT_AUTH
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'made-by-python-' + eku)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=start_days))
        .not_valid_after(now + datetime.timedelta(days=end_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
                                                    x509.DNSName('localhost')]), critical=False)
        .sign(ca_key, hashes.SHA256()))
open(out_cert, 'wb').write(cert.public_bytes(serialization.Encoding.PEM))
open(out_key, 'wb').write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
)PY";

class CertLifecycle : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    env_ = std::make_unique<BackendEnv>(dir_, GetParam());
    ASSERT_TRUE(env_->Start()) << env_->error();
    sd_ = std::make_unique<SdProcess>(dir_, env_->DaemonOptions());
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    certs_ = dir_.File("certs");
  }
  void TearDown() override {
    if (sd_) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }

  // The CLI with this daemon, and this test's certificate folder for the commands that use one.
  std::vector<std::string> Argv(std::vector<std::string> args) const {
    const std::set<std::string> uses_certs = {"provision", "cert", "trust", "tls"};
    for (const auto& a : args) {
      if (a == "--json") continue;
      if (uses_certs.count(a) != 0) args.insert(args.end(), {"--cert-dir", certs_});
      break;
    }
    args.insert(args.begin(), {CliBinary(), "--socket", sd_->socket()});
    return args;
  }
  CommandResult Cli(const std::vector<std::string>& args) const { return RunCommand(Argv(args)); }
  std::string Ok(const std::vector<std::string>& args) const {
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << "edgetrust " << args[0] << " " << (args.size() > 1 ? args[1] : "")
                              << ": " << r.out << r.err;
    return r.out;
  }
  json OkJson(std::vector<std::string> args) const {
    args.insert(args.begin(), "--json");
    const std::string out = Ok(args);
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }
  // Exit 1 and one "edgetrust: ..." line, returned.
  std::string Fails(const std::vector<std::string>& args) const {
    return ExpectOneErrorLine(Cli(args));
  }
  std::string F(const std::string& name) const { return dir_.File(name); }
  std::string Current(const std::string& identity, const std::string& file) const {
    return certs_ + "/" + identity + "/current/" + file;
  }

  CommandResult Openssl(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), "openssl");
    return RunCommand(args, input);
  }
  json Describe(const std::string& cert) const {
    auto r = RunCommand({kPython, "-c", kDescribeCert, cert});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
  }
  // The key a key.pem (EDGETRUST KEY) names, decoded with openssl: "uid:0/device-id".
  std::string KeyNameOf(const std::string& key_pem_path) const {
    const std::string pem = ReadText(key_pem_path);
    EXPECT_NE(pem.find("-----BEGIN EDGETRUST KEY-----"), std::string::npos) << pem;
    std::string body;
    std::istringstream lines(pem);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("-----", 0) != 0) body += line + "\n";
    }
    auto r = Openssl({"base64", "-d"}, body);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string uri = r.out;  // edgetrust:NAME?socket=PATH
    EXPECT_EQ(uri.rfind("edgetrust:", 0), 0u) << uri;
    uri = uri.substr(std::string("edgetrust:").size());
    return uri.substr(0, uri.find('?'));
  }
  // `current` holds a certificate for the key its key.pem names, and it chains to the CA.
  void ExpectMatchingPair(const std::string& identity) const {
    const std::string key = KeyNameOf(Current(identity, "key.pem"));
    auto pub = Cli({"key", "public", key});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    auto from_cert = Openssl({"x509", "-noout", "-pubkey", "-in", Current(identity, "cert.pem")});
    ASSERT_EQ(from_cert.exit_code, 0) << from_cert.err;
    EXPECT_EQ(pub.out, from_cert.out) << identity << " uses key " << key;
    auto v = Openssl({"verify", "-CAfile", Current("device-ca", "cert.pem"), "-untrusted",
                      Current(identity, "chain.pem"), Current(identity, "cert.pem")});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
  std::set<std::string> KeyNames() const {
    std::set<std::string> names;
    for (const auto& k : OkJson({"key", "list"})) names.insert(k["name"].get<std::string>());
    return names;
  }
  std::vector<std::string> Generations(const std::string& identity) const {
    std::vector<std::string> gens;
    for (const auto& e : fs::directory_iterator(certs_ + "/" + identity)) {
      gens.push_back(e.path().filename().string());
    }
    std::sort(gens.begin(), gens.end());
    return gens;
  }
  void Provision() { Ok({"provision", "--id", "gw-test"}); }

  // An openssl-made CA outside the device (the "cloud" or a stranger).
  void MakeOpensslCa(const std::string& name) const {
    auto r = Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", F(name + ".key"), "-out", F(name + ".pem"), "-subj",
                      "/CN=" + name, "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // A leaf signed by `ca` (openssl-made) for 127.0.0.1, valid from start_days to end_days.
  void MakeLeaf(const std::string& ca, const std::string& name, int start_days, int end_days,
                const std::string& eku) const {
    auto r = RunCommand({kPython, "-c", kMakeCert, F(ca + ".pem"), F(ca + ".key"),
                         std::to_string(start_days), std::to_string(end_days), eku,
                         F(name + ".pem"), F(name + ".key")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  TempDir dir_;
  std::unique_ptr<BackendEnv> env_;
  std::unique_ptr<SdProcess> sd_;
  std::string certs_;
};

TEST_P(CertLifecycle, ProvisionMakesAVerifiableIdentityAndIsIdempotent) {
  const int64_t before = Now();
  json p = OkJson({"provision", "--id", "gw-test", "--days", "30", "--ca-days", "400"});
  const int64_t after = Now();
  EXPECT_EQ(p["device_id"], "gw-test");
  EXPECT_FALSE(p["already_provisioned"].get<bool>());
  ASSERT_EQ(p["identities"].size(), 2u);
  EXPECT_TRUE(p["identities"][0]["key_created"].get<bool>());
  EXPECT_EQ(p["identities"][1]["key"], "device-id");

  // openssl: the chain verifies for both TLS purposes, and the extensions are as specified.
  for (const char* purpose : {"sslclient", "sslserver"}) {
    auto v = Openssl({"verify", "-purpose", purpose, "-CAfile", Current("device-ca", "cert.pem"),
                      "-untrusted", Current("device-id", "chain.pem"),
                      Current("device-id", "cert.pem")});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
  auto ext = Openssl({"x509", "-noout", "-in", Current("device-id", "cert.pem"), "-ext",
                      "basicConstraints,keyUsage,extendedKeyUsage,subjectAltName,"
                      "subjectKeyIdentifier,authorityKeyIdentifier"});
  ASSERT_EQ(ext.exit_code, 0) << ext.err;
  for (const char* want :
       {"X509v3 Basic Constraints: critical", "CA:FALSE", "X509v3 Key Usage: critical",
        "Digital Signature", "TLS Web Server Authentication, TLS Web Client Authentication",
        "URI:urn:edgetrust:device:gw-test", "DNS:gw-test", "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier"}) {
    EXPECT_NE(ext.out.find(want), std::string::npos) << want << "\n" << ext.out;
  }
  auto ca_ext = Openssl({"x509", "-noout", "-in", Current("device-ca", "cert.pem"), "-ext",
                         "basicConstraints,keyUsage,subjectKeyIdentifier"});
  for (const char* want : {"critical", "CA:TRUE, pathlen:0", "Certificate Sign, CRL Sign",
                           "X509v3 Subject Key Identifier"}) {
    EXPECT_NE(ca_ext.out.find(want), std::string::npos) << want << "\n" << ca_ext.out;
  }

  // Python's cryptography on the values.
  json leaf = Describe(Current("device-id", "cert.pem"));
  json ca = Describe(Current("device-ca", "cert.pem"));
  EXPECT_EQ(leaf["version"], "v3");
  EXPECT_EQ(leaf["subject"], "O=EdgeTrust,CN=gw-test");
  EXPECT_TRUE(leaf["bc"]["critical"].get<bool>());
  EXPECT_FALSE(leaf["bc"]["ca"].get<bool>());
  EXPECT_TRUE(leaf["ku"]["critical"].get<bool>());
  EXPECT_TRUE(leaf["ku"]["digital_signature"].get<bool>());
  EXPECT_FALSE(leaf["ku"]["key_cert_sign"].get<bool>());
  EXPECT_FALSE(leaf["ku"]["key_encipherment"].get<bool>());  // an EC key
  EXPECT_TRUE(leaf["eku"]["server"].get<bool>());
  EXPECT_TRUE(leaf["eku"]["client"].get<bool>());
  EXPECT_EQ(leaf["san"]["uri"], json::array({"urn:edgetrust:device:gw-test"}));
  EXPECT_EQ(leaf["san"]["dns"], json::array({"gw-test"}));
  EXPECT_FALSE(leaf["san"]["critical"].get<bool>());
  EXPECT_EQ(leaf["aki"], ca["ski"]);
  EXPECT_EQ(leaf["serial_bits"].get<int>(), 127);  // 16 random bytes, positive, top byte 01xxxxxx
  EXPECT_NE(leaf["serial"], ca["serial"]);
  // notBefore set back 5 minutes from the moment of issue; 30 days of validity after it.
  const int64_t nb = leaf["not_before"].get<int64_t>();
  EXPECT_GE(nb, before - 300);
  EXPECT_LE(nb, after - 300);
  EXPECT_EQ(leaf["not_after"].get<int64_t>() - nb, 30 * 86400 + 300);
  EXPECT_TRUE(ca["bc"]["critical"].get<bool>());
  EXPECT_TRUE(ca["bc"]["ca"].get<bool>());
  EXPECT_EQ(ca["bc"]["pathlen"], 0);
  EXPECT_TRUE(ca["ku"]["critical"].get<bool>());
  EXPECT_TRUE(ca["ku"]["key_cert_sign"].get<bool>());
  EXPECT_TRUE(ca["ku"]["crl_sign"].get<bool>());
  EXPECT_FALSE(ca["ku"]["digital_signature"].get<bool>());
  EXPECT_EQ(ca["not_after"].get<int64_t>() - ca["not_before"].get<int64_t>(), 400 * 86400 + 300);
  EXPECT_EQ(ca["subject"], ca["issuer"]);

  // The certificate is for the secure-domain key named by key.pem.
  EXPECT_EQ(KeyNameOf(Current("device-id", "key.pem"))
                .substr(KeyNameOf(Current("device-id", "key.pem")).find('/') + 1),
            "device-id");
  ExpectMatchingPair("device-id");
  EXPECT_EQ(
      ReadText(Current("device-id", "fullchain.pem")),
      ReadText(Current("device-id", "cert.pem")) + ReadText(Current("device-id", "chain.pem")));

  // Again: nothing changes.
  const std::string cert_before = ReadText(Current("device-id", "cert.pem"));
  const std::set<std::string> keys_before = KeyNames();
  json again = OkJson({"provision"});
  EXPECT_TRUE(again["already_provisioned"].get<bool>());
  EXPECT_EQ(again["device_id"], "gw-test");
  EXPECT_EQ(ReadText(Current("device-id", "cert.pem")), cert_before);
  EXPECT_EQ(KeyNames(), keys_before);
  EXPECT_EQ(Generations("device-id"), (std::vector<std::string>{"current", "gen-1"}));
  // Another id needs --force; --force issues new certificates for the same keys.
  EXPECT_NE(Fails({"provision", "--id", "other"}).find("provisioned as gw-test"),
            std::string::npos);
  json forced = OkJson({"provision", "--force"});
  EXPECT_FALSE(forced["already_provisioned"].get<bool>());
  EXPECT_NE(ReadText(Current("device-id", "cert.pem")), cert_before);
  EXPECT_EQ(KeyNames(), keys_before);
  ExpectMatchingPair("device-id");
}

TEST_P(CertLifecycle, CsrIssueImport) {
  Provision();
  // A CSR for a secure-domain key, checked by openssl.
  Ok({"cert", "csr", "mqtt", "--subject", "/CN=mqtt.local/O=Acme", "--san", "DNS:mqtt.local",
      "--san", "IP:127.0.0.1", "--out", F("mqtt.csr")});
  auto req = Openssl({"req", "-verify", "-noout", "-text", "-in", F("mqtt.csr")});
  EXPECT_EQ(req.exit_code, 0) << req.err;
  EXPECT_NE(req.out.find("DNS:mqtt.local, IP Address:127.0.0.1"), std::string::npos) << req.out;
  auto csr_pub = Openssl({"req", "-noout", "-pubkey", "-in", F("mqtt.csr")});
  EXPECT_EQ(csr_pub.out, Ok({"key", "public", "mqtt"}));

  json issued =
      OkJson({"cert", "issue", "--ca", "device-ca", "--csr", F("mqtt.csr"), "--days", "30",
              "--server", "--out", F("mqtt.pem"), "--chain-out", F("mqtt-chain.pem")});
  EXPECT_EQ(issued["profile"], "server");
  auto v = Openssl({"verify", "-purpose", "sslserver", "-CAfile", Current("device-ca", "cert.pem"),
                    "-untrusted", F("mqtt-chain.pem"), F("mqtt.pem")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  json c = Describe(F("mqtt.pem"));
  EXPECT_EQ(c["subject"], "O=Acme,CN=mqtt.local");
  EXPECT_TRUE(c["eku"]["server"].get<bool>());
  EXPECT_FALSE(c["eku"]["client"].get<bool>());
  EXPECT_EQ(c["san"]["dns"], json::array({"mqtt.local"}));
  EXPECT_EQ(c["san"]["ip"], json::array({"127.0.0.1"}));
  EXPECT_EQ(c["aki"], Describe(Current("device-ca", "cert.pem"))["ski"]);
  EXPECT_EQ(c["not_after"].get<int64_t>() - c["not_before"].get<int64_t>(), 30 * 86400 + 300);

  // Import: the certificate of another key is refused naming both keys; the right one is taken
  // and tracked with the local CA as issuer.
  std::string err = Fails({"cert", "import", "device-id", "--cert", F("mqtt.pem")});
  EXPECT_NE(err.find("invalid-argument"), std::string::npos) << err;
  EXPECT_NE(err.find("sha256:"), err.rfind("sha256:")) << err;
  json imported =
      OkJson({"cert", "import", "mqtt", "--cert", F("mqtt.pem"), "--chain", F("mqtt-chain.pem")});
  EXPECT_EQ(imported["issuer"], "device-ca");
  EXPECT_EQ(imported["profile"], "server");
  ExpectMatchingPair("mqtt");
  json list = OkJson({"cert", "list"});
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2]["name"], "mqtt");
  EXPECT_FALSE(list[2]["renewal_due"].get<bool>());

  // A CSR from openssl asking for CA powers gets a leaf certificate; an RSA key gets
  // keyEncipherment.
  auto greedy =
      Openssl({"req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", F("g.key"), "-out",
               F("g.csr"), "-subj", "/CN=greedy", "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "subjectAltName=DNS:greedy.example"});
  ASSERT_EQ(greedy.exit_code, 0) << greedy.err;
  json g = OkJson({"cert", "issue", "--ca", "device-ca", "--csr", F("g.csr"), "--days", "7",
                   "--client", "--out", F("g.pem")});
  EXPECT_EQ(g["ignored_extensions"], json::array({"basicConstraints"}));
  json gc = Describe(F("g.pem"));
  EXPECT_FALSE(gc["bc"]["ca"].get<bool>());
  EXPECT_TRUE(gc["ku"]["key_encipherment"].get<bool>());
  EXPECT_TRUE(gc["eku"]["client"].get<bool>());
  EXPECT_FALSE(gc["eku"]["server"].get<bool>());
  EXPECT_EQ(gc["san"]["dns"], json::array({"greedy.example"}));

  // Bad input: one error line, exit 1.
  WriteText(F("junk.csr"),
            "-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n"
            "-----END CERTIFICATE REQUEST-----\n");
  err = Fails({"cert", "issue", "--ca", "device-ca", "--csr", F("junk.csr"), "--days", "1", "--out",
               F("junk.pem")});
  EXPECT_NE(err.find("invalid base64"), std::string::npos) << err;
  // A CSR whose signature was altered (the last byte of its DER).
  auto der = Openssl({"req", "-in", F("mqtt.csr"), "-outform", "DER", "-out", F("bad.der")});
  ASSERT_EQ(der.exit_code, 0);
  std::string bytes = ReadText(F("bad.der"));
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  WriteText(F("bad.der"), bytes);
  err = Fails({"cert", "issue", "--ca", "device-ca", "--csr", F("bad.der"), "--days", "1", "--out",
               F("junk.pem")});
  EXPECT_NE(err.find("verify-failed"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(F("junk.pem")));
  WriteText(F("junk.pem"), "this is not a certificate\n");
  err = Fails({"cert", "import", "mqtt", "--cert", F("junk.pem")});
  EXPECT_NE(err.find("line 1"), std::string::npos) << err;
  Fails({"cert", "csr", "x", "--subject", "CN=no-slash", "--out", F("x.csr")});
  Fails({"cert", "issue", "--ca", "device-id", "--csr", F("mqtt.csr"), "--days", "1", "--out",
         F("x.pem")});  // not a CA
  Fails({"cert", "issue", "--ca", "device-ca", "--csr", F("mqtt.csr"), "--days", "1", "--server",
         "--san", "bogus", "--out", F("x.pem")});
}

TEST_P(CertLifecycle, TrustBundlesAndTamperDetection) {
  Provision();
  MakeOpensslCa("cloud-root");
  MakeLeaf("cloud-root", "cloud-server", -1, 10, "server");
  json added = OkJson({"trust", "add", "--purpose", "cloud", F("cloud-root.pem")});
  ASSERT_EQ(added["added"].size(), 1u);
  // The fingerprint is the one openssl computes.
  auto fp = Openssl({"x509", "-noout", "-fingerprint", "-sha256", "-in", F("cloud-root.pem")});
  std::string hex;
  for (char ch : fp.out.substr(fp.out.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(ch))) hex += static_cast<char>(std::tolower(ch));
  }
  EXPECT_EQ(added["added"][0]["fingerprint"], hex);
  json list = OkJson({"trust", "list", "--purpose", "cloud"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["subject"], "/CN=cloud-root");
  EXPECT_GT(list[0]["not_after"].get<int64_t>(), Now());
  // The bundle is a plain PEM file openssl uses as it is.
  auto v = Openssl({"verify", "-CAfile", certs_ + "/trust/cloud.pem", F("cloud-server.pem")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // Refused: a leaf, garbage around PEM, an unknown purpose (exit 1, not a usage error).
  EXPECT_NE(Fails({"trust", "add", "--purpose", "cloud", F("cloud-server.pem")}).find("CA"),
            std::string::npos);
  WriteText(F("garbage.pem"), ReadText(F("cloud-root.pem")) + "trailing garbage\n");
  EXPECT_NE(Fails({"trust", "add", "--purpose", "cloud", F("garbage.pem")}).find("outside a PEM"),
            std::string::npos);
  EXPECT_NE(Fails({"trust", "add", "--purpose", "firmware", F("cloud-root.pem")})
                .find("unknown trust purpose"),
            std::string::npos);

  // Modified behind our back: reported as tampered by every reader.
  const std::string bundle = certs_ + "/trust/cloud.pem";
  MakeOpensslCa("intruder");
  WriteText(bundle, ReadText(bundle) + ReadText(F("intruder.pem")));
  std::string err = Fails({"trust", "list"});
  EXPECT_NE(err.find("tampered"), std::string::npos) << err;
  err = Fails({"trust", "verify"});
  EXPECT_NE(err.find("tampered"), std::string::npos) << err;
  err = Fails({"tls", "connect", "127.0.0.1:1", "--trust", "cloud"});
  EXPECT_NE(err.find("tampered"), std::string::npos) << err;
  EXPECT_NE(Fails({"trust", "add", "--purpose", "cloud", F("intruder.pem")}).find("tampered"),
            std::string::npos);
  // The way back: remove the bundle, add again; then remove by fingerprint.
  Ok({"trust", "remove", "--purpose", "cloud", "--all"});
  Ok({"trust", "verify"});
  Ok({"trust", "add", "--purpose", "cloud", F("cloud-root.pem")});
  Ok({"trust", "add", "--purpose", "update", F("intruder.pem")});
  Ok({"trust", "remove", "--purpose", "cloud", hex});
  EXPECT_TRUE(OkJson({"trust", "list", "--purpose", "cloud"}).empty());
  EXPECT_EQ(OkJson({"trust", "list"}).size(), 1u);
  EXPECT_NE(Fails({"trust", "remove", "--purpose", "cloud", hex}).find("not-found"),
            std::string::npos);
  // The MAC key lives in the secure domain.
  EXPECT_EQ(KeyNames().count("trust-bundle-mac"), 1u);
}

TEST_P(CertLifecycle, TlsConnectVerifiesTheServer) {
  Provision();
  MakeOpensslCa("cloud-root");
  MakeOpensslCa("stranger");
  MakeLeaf("cloud-root", "good", -1, 10, "server");
  MakeLeaf("cloud-root", "expired", -10, -1, "server");
  MakeLeaf("stranger", "wrong-ca", -1, 10, "server");
  Ok({"trust", "add", "--purpose", "cloud", F("cloud-root.pem")});

  // The s_server asks for a client certificate from the device CA and refuses anything else.
  auto serve = [&](const std::string& cert, int port, const std::string& log) {
    return std::make_unique<Background>(
        std::vector<std::string>{
            "openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
            F(cert + ".pem"), "-key", F(cert + ".key"), "-CAfile", Current("device-ca", "cert.pem"),
            "-Verify", "2", "-verify_return_error", "-www"},
        F(log));
  };
  const int port = FreePort();
  {
    auto server = serve("good", port, "good.log");
    ASSERT_TRUE(server->WaitForPort(port)) << server->log();
    const std::string target = "127.0.0.1:" + std::to_string(port);
    json ok = OkJson({"tls", "connect", target, "--identity", "device-id"});
    EXPECT_EQ(ok["protocol"], "TLSv1.3");
    EXPECT_EQ(ok["peer"], "/CN=made-by-python-server");
    ASSERT_EQ(ok["chain"].size(), 2u);
    EXPECT_EQ(ok["chain"][1]["subject"], "/CN=cloud-root");
    std::string text = Ok({"tls", "connect", target, "--identity", "device-id"});
    EXPECT_NE(text.find("cipher:"), std::string::npos) << text;
    // The name must match: "localhost" is in the SAN, "cloud.example" is not.
    Ok({"tls", "connect", target, "--identity", "device-id", "--servername", "localhost"});
    std::string err = Fails(
        {"tls", "connect", target, "--identity", "device-id", "--servername", "cloud.example"});
    EXPECT_NE(err.find("hostname mismatch"), std::string::npos) << err;
    // Without a client certificate the server refuses us, and we say so.
    err = Fails({"tls", "connect", target});
    EXPECT_NE(err.find("refused"), std::string::npos) << err;
  }
  const int port2 = FreePort();
  {
    auto server = serve("expired", port2, "expired.log");
    ASSERT_TRUE(server->WaitForPort(port2)) << server->log();
    std::string err =
        Fails({"tls", "connect", "127.0.0.1:" + std::to_string(port2), "--identity", "device-id"});
    EXPECT_NE(err.find("verify-failed"), std::string::npos) << err;
    EXPECT_NE(err.find("certificate has expired"), std::string::npos) << err;
  }
  const int port3 = FreePort();
  {
    auto server = serve("wrong-ca", port3, "wrong.log");
    ASSERT_TRUE(server->WaitForPort(port3)) << server->log();
    std::string err =
        Fails({"tls", "connect", "127.0.0.1:" + std::to_string(port3), "--identity", "device-id"});
    EXPECT_NE(err.find("unable to get local issuer certificate"), std::string::npos) << err;
  }
  EXPECT_NE(Fails({"tls", "connect", "127.0.0.1:1", "--trust", "nope"}).find("unknown trust"),
            std::string::npos);
}

TEST_P(CertLifecycle, TlsServeRefusesClientsOfAnotherCa) {
  Provision();
  Ok({"trust", "add", "--purpose", "leaf", Current("device-ca", "cert.pem")});
  // A leaf device's key and a certificate for it from the device CA; and one from a stranger.
  auto gen =
      Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", F("sensor.key"), "-out", F("sensor.csr"), "-subj", "/CN=sensor-1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  Ok({"cert", "issue", "--ca", "device-ca", "--csr", F("sensor.csr"), "--days", "30", "--client",
      "--out", F("sensor.pem")});
  MakeOpensslCa("stranger");
  MakeLeaf("stranger", "intruder", -1, 10, "client");

  // `tls serve --once` in the background; s_client retried until the port accepts (a refused
  // connect does not count as the one connection).
  auto run = [&](const std::string& cert, std::string* client_out) {
    const int port = FreePort();
    CommandResult served;
    std::vector<std::string> argv =
        Argv({"tls", "serve", "--port", std::to_string(port), "--require-client-cert", "--once"});
    argv.insert(argv.begin(), {"timeout", "120"});
    std::thread server([&] { served = RunCommand(argv); });
    for (int i = 0; i < 400; ++i) {
      auto c =
          RunCommand({"timeout", "60", "openssl", "s_client", "-connect",
                      "127.0.0.1:" + std::to_string(port), "-cert", F(cert + ".pem"), "-key",
                      F(cert + ".key"), "-CAfile", Current("device-ca", "cert.pem"), "-ign_eof"});
      const std::string all = c.out + c.err;
      if (all.find("errno=111") == std::string::npos &&
          all.find("Connection refused") == std::string::npos) {
        *client_out = c.out;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    server.join();
    return served;
  };
  std::string client_out;
  CommandResult good = run("sensor", &client_out);
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_NE(good.out.find("client /CN=sensor-1 (verified)"), std::string::npos) << good.out;
  EXPECT_NE(client_out.find("hello /CN=sensor-1"), std::string::npos) << client_out;
  // The server's certificate is the device identity, and s_client verified it.
  EXPECT_NE(client_out.find("Verify return code: 0 (ok)"), std::string::npos) << client_out;

  CommandResult bad = run("intruder", &client_out);
  std::string err = ExpectOneErrorLine(bad);
  EXPECT_NE(err.find("client certificate refused"), std::string::npos) << err;
  EXPECT_NE(err.find("unable to get local issuer certificate"), std::string::npos) << err;
  EXPECT_EQ(client_out.find("hello"), std::string::npos) << client_out;
}

TEST_P(CertLifecycle, RenewalWhenDueWithFreshKeys) {
  Provision();
  const std::string cert1 = ReadText(Current("device-id", "cert.pem"));
  // Not due now: nothing changes.
  json r = OkJson({"cert", "renew"});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["action"], "not-due");
  EXPECT_EQ(r[1]["action"], "not-due");
  EXPECT_EQ(ReadText(Current("device-id", "cert.pem")), cert1);
  // 300 days on, the 365-day device certificate is past 80% of its life, the CA is not.
  const std::string later = std::to_string(Now() + 300 * 86400);
  json listed = OkJson({"cert", "list", "--at", later});
  EXPECT_TRUE(listed[1]["renewal_due"].get<bool>());
  EXPECT_FALSE(listed[0]["renewal_due"].get<bool>());
  json dry = OkJson({"cert", "renew", "--dry-run", "--at", later});
  EXPECT_EQ(dry[1]["action"], "due");
  EXPECT_EQ(ReadText(Current("device-id", "cert.pem")), cert1);
  r = OkJson({"cert", "renew", "--at", later});
  EXPECT_EQ(r[0]["action"], "not-due");
  EXPECT_EQ(r[1]["action"], "renewed");
  EXPECT_EQ(r[1]["key"], "device-id");
  EXPECT_NE(ReadText(Current("device-id", "cert.pem")), cert1);
  ExpectMatchingPair("device-id");
  // A lower share makes it due now.
  EXPECT_EQ(OkJson({"cert", "renew", "--share", "0.5", "--dry-run"})[1]["action"], "not-due");
  EXPECT_EQ(OkJson({"cert", "renew", "--share", "0.000001", "--dry-run", "--at",
                    std::to_string(Now() + 3600)})[1]["action"],
            "due");

  // Fresh keys: each renewal makes NAME.gN; the previous generation and its key stay, older go.
  Ok({"cert", "policy", "device-id", "--fresh-key", "on"});
  r = OkJson({"cert", "renew", "--force", "--name", "device-id"});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["key"], "device-id.g3");
  EXPECT_TRUE(r[0]["fresh_key"].get<bool>());
  ExpectMatchingPair("device-id");
  EXPECT_EQ(KeyNames().count("device-id"), 1u);  // gen-2's key: the previous generation's
  r = OkJson({"cert", "renew", "--force", "--name", "device-id"});
  EXPECT_EQ(r[0]["key"], "device-id.g4");
  EXPECT_EQ(r[0]["deleted_keys"], json::array({"device-id"}));
  ExpectMatchingPair("device-id");
  std::set<std::string> keys = KeyNames();
  EXPECT_EQ(keys.count("device-id"), 0u);
  EXPECT_EQ(keys.count("device-id.g3"), 1u);
  EXPECT_EQ(keys.count("device-id.g4"), 1u);
  EXPECT_EQ(Generations("device-id"), (std::vector<std::string>{"current", "gen-3", "gen-4"}));
  // The previous generation is still a working pair (a server that loaded it keeps going).
  const std::string prev_key = KeyNameOf(certs_ + "/device-id/gen-3/key.pem");
  auto prev_pub =
      Openssl({"x509", "-noout", "-pubkey", "-in", certs_ + "/device-id/gen-3/cert.pem"});
  EXPECT_EQ(prev_pub.out, Ok({"key", "public", prev_key}));

  // Renewing the CA makes its leaves due (their chain must carry the new CA certificate).
  r = OkJson({"cert", "renew", "--force", "--name", "device-ca"});
  EXPECT_EQ(r[0]["action"], "renewed");
  listed = OkJson({"cert", "list"});
  EXPECT_TRUE(listed[1]["renewal_due"].get<bool>());
  EXPECT_NE(listed[1]["due_reason"].get<std::string>().find("renewed"), std::string::npos);
  r = OkJson({"cert", "renew"});
  EXPECT_EQ(r[1]["action"], "renewed");
  ExpectMatchingPair("device-id");

  EXPECT_NE(Fails({"cert", "renew", "--name", "nobody"}).find("not-found"), std::string::npos);
  Fails({"cert", "renew", "--share", "1.5"});
}

// Renewal killed at every step (EDGETRUST_TEST_CRASH_AT, exit 86 right there): `current` still
// holds a matching certificate and key, and the next renewal completes and cleans up.
TEST_P(CertLifecycle, RenewalSurvivesACrashAtEveryStep) {
  Provision();
  Ok({"cert", "policy", "device-id", "--fresh-key", "on"});
  // Two renewals first, so that every later one also prunes a generation and deletes a key.
  Ok({"cert", "renew", "--force", "--name", "device-id"});
  Ok({"cert", "renew", "--force", "--name", "device-id"});
  const std::vector<std::string> steps = {
      "key-created",        "cert-signed",          "cert-written",
      "generation-written", "generation-committed", "link-created",
      "current-switched",   "old-key-deleted",      "old-generation-removed"};
  for (const auto& step : steps) {
    SCOPED_TRACE(step);
    std::vector<std::string> argv = Argv({"cert", "renew", "--force", "--name", "device-id"});
    argv.insert(argv.begin(), {"env", "EDGETRUST_TEST_CRASH_AT=" + step});
    auto crashed = RunCommand(argv);
    ASSERT_EQ(crashed.exit_code, 86)
        << "the crash point was not reached: " << crashed.out << crashed.err;
    ExpectMatchingPair("device-id");

    auto again = Cli({"--json", "cert", "renew", "--force", "--name", "device-id"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    ExpectMatchingPair("device-id");
    // Clean afterwards: two generations, no leftovers, and exactly their keys.
    std::vector<std::string> gens = Generations("device-id");
    ASSERT_EQ(gens.size(), 3u) << ::testing::PrintToString(gens);
    std::set<std::string> want_keys;
    for (const auto& g : gens) {
      EXPECT_EQ(g.find(".tmp."), std::string::npos) << g;
      if (g == "current") continue;
      const std::string name = KeyNameOf(certs_ + "/device-id/" + g + "/key.pem");
      want_keys.insert(name.substr(name.find('/') + 1));
    }
    std::set<std::string> have_keys;
    for (const auto& k : KeyNames()) {
      if (k.rfind("device-id", 0) == 0) have_keys.insert(k);
    }
    EXPECT_EQ(have_keys, want_keys);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CertLifecycle, ::testing::Values("emulated", "pkcs11"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace
}  // namespace edgetrust::test
