#include "sensor/enroll.h"

#include <openssl/buffer.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/files.h"
#include "edgetrust/client.h"
#include "identity/csr.h"
#include "identity/subject.h"
#include "provider/key_uri.h"
#include "provider/load_key.h"
#include "sensor/backoff.h"
#include "sensor/credentials.h"
#include "sensor/publisher.h"

namespace edgetrust::sensor {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kAnswerTimeout = std::chrono::seconds(60);
constexpr size_t kMaxCertificateAnswer = 256 * 1024;

Status MakeStateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kIoError, dir + ": " + ErrnoText(errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(ErrorCode::kIoError, dir + ": not a folder");
  }
  return Status::Ok();
}

// A key in the secure domain: created (or, left by an enrollment that did not finish, reused),
// and named in DIR/key.pem.
Result<EvpPkeyPtr> SecureDomainKey(const SensorOptions& o, const Output& out) {
  auto sd = Client::Connect(o.sd_socket);
  if (!sd.ok()) {
    return Status(sd.status().code(), "secure domain: " + sd.status().message());
  }
  auto created = (*sd)->CreateKey(o.sd_key, KeyType::kEcdsaP256);
  if (!created.ok() && created.status().code() != ErrorCode::kAlreadyExists) {
    return Status(created.status().code(),
                  "creating key " + o.sd_key + ": " + created.status().message());
  }
  if (!created.ok()) out.Notice("using the existing secure-domain key " + o.sd_key);
  const std::string pem = provider::FormatKeyPem({o.sd_key, o.sd_socket});
  ET_RETURN_IF_ERROR(
      WriteFileAtomic(StateKeyPath(o.state_dir), AsBytes(pem), 0600, WriteMode::kReplace));
  return LoadSdKeyUri(provider::FormatKeyUri({o.sd_key, o.sd_socket}), o.sd_socket);
}

Result<EvpPkeyPtr> FileKey(const SensorOptions& o, OSSL_LIB_CTX* libctx) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(libctx, nullptr, "EC", "P-256"));
  if (!key) return Status(ErrorCode::kInternal, OpensslError("P-256 key generation"));
  // Secure memory BIO: the PEM text is cleansed when it is freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status(ErrorCode::kInternal, OpensslError("writing the key"));
  }
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  ET_RETURN_IF_ERROR(WriteFileAtomic(
      StateKeyPath(o.state_dir), ByteView(reinterpret_cast<const uint8_t*>(mem->data), mem->length),
      0600, WriteMode::kReplace));
  return key;
}

// The answer: the certificate for our key and name, then its chain.
Status CheckCertificate(const std::string& pem, EVP_PKEY* key, const std::string& name) {
  if (pem.size() > kMaxCertificateAnswer) {
    return Status(ErrorCode::kInvalidArgument, "the enrollment answer is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status(ErrorCode::kInternal, "BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) {
    return Status(ErrorCode::kInvalidArgument,
                  "the enrollment answer is neither a PEM certificate nor an error");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key) != 1) {
    return Status(ErrorCode::kInvalidArgument, "the certificate received is not for our key");
  }
  auto subject = identity::FromX509Name(X509_get_subject_name(cert.get()));
  if (!subject.ok() || subject->Get("CN") != name) {
    return Status(ErrorCode::kInvalidArgument,
                  "the certificate received is not for CN=" + name + " but for " +
                      identity::DisplayName(X509_get_subject_name(cert.get())));
  }
  return Status::Ok();
}

// One attempt: connect with the token, send the CSR, wait for the answer.
Status EnrollOnce(const SensorOptions& o, SSL_CTX* ctx, const std::string& csr_pem, EVP_PKEY* key,
                  const Output& out, const volatile std::sig_atomic_t* stop) {
  auto client = ConnectToGateway(o, ctx, o.name, o.enroll_token);
  if (!client.ok()) {
    if (client.status().code() == ErrorCode::kPermissionDenied) {
      return Status(
          ErrorCode::kPermissionDenied,
          "enrollment refused (a wrong, used or expired token?): " + client.status().message());
    }
    return client.status();
  }
  std::optional<std::string> answer;
  std::optional<uint8_t> csr_ack;
  uint16_t csr_id = 0;
  (*client)->on_message = [&](const mqtt::Publish& p) {
    if (p.topic == kEnrollResultTopic && !answer) answer = p.payload;
  };
  (*client)->on_ack = [&](uint16_t id, uint8_t reason) {
    if (id == csr_id) csr_ack = reason;
  };
  ET_RETURN_IF_ERROR((*client)->Subscribe(kEnrollResultTopic, 1));
  ET_ASSIGN_OR_RETURN(csr_id, (*client)->Publish(kEnrollCsrTopic, csr_pem, 1));
  const auto deadline = Clock::now() + kAnswerTimeout;
  while (!(answer && csr_ack)) {
    if (csr_ack && *csr_ack >= 0x80 && !answer) {
      return Status(ErrorCode::kPermissionDenied,
                    "the gateway refused the CSR: " + std::string(mqtt::ReasonCodeText(*csr_ack)));
    }
    if (Clock::now() >= deadline || *stop) {
      return Status(ErrorCode::kUnavailable, "no enrollment answer from the gateway");
    }
    ET_RETURN_IF_ERROR((*client)->Poll(200));
  }
  (void)(*client)->Disconnect();
  if (answer->rfind("error: ", 0) == 0) {
    return Status(ErrorCode::kPermissionDenied,
                  "the gateway refused the enrollment: " + Printable(answer->substr(7), 512));
  }
  ET_RETURN_IF_ERROR(CheckCertificate(*answer, key, o.name));
  ET_RETURN_IF_ERROR(
      WriteFileAtomic(StateCertPath(o.state_dir), AsBytes(*answer), 0644, WriteMode::kReplace));
  out.Notice("enrolled: certificate in " + StateCertPath(o.state_dir));
  return Status::Ok();
}

}  // namespace

Status Enroll(const SensorOptions& o, const Output& out, const volatile std::sig_atomic_t* stop) {
  if (::access(StateCertPath(o.state_dir).c_str(), F_OK) == 0) {
    out.Notice(o.state_dir + " holds a certificate: enrolled earlier, not enrolling again");
    return Status::Ok();
  }
  ET_RETURN_IF_ERROR(MakeStateDir(o.state_dir));
  ET_ASSIGN_OR_RETURN(OSSL_LIB_CTX * libctx, provider::SharedLibCtx());
  EvpPkeyPtr key;
  if (!o.sd_key.empty()) {
    ET_ASSIGN_OR_RETURN(key, SecureDomainKey(o, out));
  } else {
    ET_ASSIGN_OR_RETURN(key, FileKey(o, libctx));
  }
  identity::Subject subject;
  subject.attributes.push_back({"CN", o.name});
  ET_ASSIGN_OR_RETURN(X509ReqPtr csr, identity::BuildCsr(subject, {}, key.get(), libctx));
  const std::string csr_pem = identity::CsrToPem(csr.get());
  ET_ASSIGN_OR_RETURN(SslCtxPtr ctx, ServerOnlyContext(o));

  Backoff backoff(std::chrono::milliseconds(o.retry_ms), std::chrono::milliseconds(10000),
                  static_cast<uint64_t>(::getpid()));
  while (true) {
    Status st = EnrollOnce(o, ctx.get(), csr_pem, key.get(), out, stop);
    if (st.ok() || !IsTransient(st) || *stop) return st;
    const auto delay = backoff.Next();
    out.Notice("enrollment: " + st.message() + "; retrying in " + std::to_string(delay.count()) +
               " ms");
    SleepUnlessStopped(delay, stop);
  }
}

}  // namespace edgetrust::sensor
