#include "edgetrust/client.h"

#include <cstdlib>

#include "client/connection.h"
#include "protocol/message.h"

namespace edgetrust {

using protocol::Field;
using protocol::Message;
using protocol::Opcode;

class Client::Impl {
 public:
  explicit Impl(std::unique_ptr<client::Connection> connection) : conn(std::move(connection)) {}
  std::unique_ptr<client::Connection> conn;
};

namespace {

// "NAME" or "OWNER/NAME" into the request's Name and Owner fields.
void PutKeyRef(Message& m, std::string_view key) {
  auto slash = key.rfind('/');
  if (slash == std::string_view::npos) {
    m.PutString(Field::kName, key);
  } else {
    m.PutString(Field::kOwner, key.substr(0, slash));
    m.PutString(Field::kName, key.substr(slash + 1));
  }
}

Result<KeyInfo> ParseEntry(ByteView body, Opcode op) {
  ET_ASSIGN_OR_RETURN(Message e, Message::Decode(body, op, protocol::BodyKind::kKeyEntry));
  KeyInfo k;
  k.name = std::string(*e.GetString(Field::kName));
  k.owner = std::string(*e.GetString(Field::kOwner));
  k.type = std::string(*e.GetString(Field::kKeyType));
  k.created = *e.GetU64(Field::kCreated);
  k.state = std::string(*e.GetString(Field::kState));
  return k;
}

Bytes ToBytes(std::optional<ByteView> v) { return v ? Bytes(v->begin(), v->end()) : Bytes{}; }

// A 32-byte field into a digest; the schema bounds the size from above only.
Result<Digest256> ToDigest(ByteView v) {
  Digest256 d{};
  if (v.size() != d.size()) return Status(ErrorCode::kMalformed, "digest is not 32 bytes");
  std::copy(v.begin(), v.end(), d.begin());
  return d;
}

void PutAlgorithm(Message& m, const SignOptions& o) {
  if (o.algorithm != SignAlgorithm::kDefault)
    m.PutString(Field::kAlgorithm, SignAlgorithmName(o.algorithm));
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Connect(std::string_view socket_path) {
  std::string path(socket_path);
  if (path.empty()) {
    const char* env = std::getenv("EDGETRUST_SOCKET");
    path = (env != nullptr && *env != '\0') ? env : std::string(kDefaultSocketPath);
  }
  ET_ASSIGN_OR_RETURN(auto conn, client::Connection::Open(path));
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(std::move(conn))));
}

Result<DaemonInfo> Client::Info() {
  Message req;
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kInfo, req));
  DaemonInfo info;
  info.backend = std::string(*r.GetString(Field::kBackend));
  info.version = std::string(*r.GetString(Field::kVersion));
  info.protocol_version = *r.GetU32(Field::kProtocolVersion);
  info.principal = std::string(*r.GetString(Field::kPrincipal));
  info.key_count = *r.GetU32(Field::kKeyCount);
  for (ByteView v : r.GetAll(Field::kSupported)) info.supported.emplace_back(v.begin(), v.end());
  info.counter_protection = std::string(r.GetString(Field::kCounterProtection).value_or(""));
  for (ByteView v : r.GetAll(Field::kNotice)) info.notices.emplace_back(v.begin(), v.end());
  for (ByteView v : r.GetAll(Field::kFeature)) {
    // "NAME native|provided HOW"
    const std::string text(v.begin(), v.end());
    DaemonInfo::Feature f;
    const size_t a = text.find(' ');
    const size_t b = a == std::string::npos ? a : text.find(' ', a + 1);
    f.name = text.substr(0, a);
    if (a != std::string::npos) {
      f.native = text.compare(a + 1, b == std::string::npos ? std::string::npos : b - a - 1,
                              "native") == 0;
      if (b != std::string::npos) f.how = text.substr(b + 1);
    }
    info.features.push_back(std::move(f));
  }
  info.storage_protection = std::string(r.GetString(Field::kStorageProtection).value_or(""));
  info.device = std::string(r.GetString(Field::kDevice).value_or(""));
  return info;
}

Result<KeyInfo> Client::CreateKey(std::string_view name, KeyType type) {
  Message req;
  req.PutString(Field::kName, name).PutString(Field::kKeyType, KeyTypeName(type));
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kKeyCreate, req));
  return ParseEntry(*r.GetBytes(Field::kKeyEntry), Opcode::kKeyCreate);
}

Result<std::vector<KeyInfo>> Client::ListKeys(std::string_view owner) {
  Message req;
  if (!owner.empty()) req.PutString(Field::kOwner, owner);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kKeyList, req));
  std::vector<KeyInfo> out;
  for (ByteView v : r.GetAll(Field::kKeyEntry)) {
    ET_ASSIGN_OR_RETURN(KeyInfo k, ParseEntry(v, Opcode::kKeyList));
    out.push_back(std::move(k));
  }
  return out;
}

Result<std::string> Client::PublicKeyPem(std::string_view key) {
  Message req;
  PutKeyRef(req, key);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kKeyPublic, req));
  return std::string(*r.GetString(Field::kPublicPem));
}

Status Client::DeleteKey(std::string_view key) {
  Message req;
  PutKeyRef(req, key);
  auto r = impl_->conn->Call(Opcode::kKeyDelete, req);
  return r.status();
}

Result<Bytes> Client::Sign(std::string_view key, ByteView message, SignOptions options) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kData, message);
  PutAlgorithm(req, options);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kSign, req));
  return ToBytes(r.GetBytes(Field::kSignature));
}

Result<Bytes> Client::SignDigest(std::string_view key, ByteView digest, SignOptions options) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kDigest, digest);
  PutAlgorithm(req, options);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kSign, req));
  return ToBytes(r.GetBytes(Field::kSignature));
}

Result<bool> Client::Verify(std::string_view key, ByteView message, ByteView signature,
                            SignOptions options) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kData, message).PutBytes(Field::kSignature, signature);
  PutAlgorithm(req, options);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kVerify, req));
  return *r.GetBool(Field::kValid);
}

Result<bool> Client::VerifyDigest(std::string_view key, ByteView digest, ByteView signature,
                                  SignOptions options) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kDigest, digest).PutBytes(Field::kSignature, signature);
  PutAlgorithm(req, options);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kVerify, req));
  return *r.GetBool(Field::kValid);
}

Result<Bytes> Client::Encrypt(std::string_view key, ByteView plaintext, ByteView aad) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kPlaintext, plaintext);
  if (!aad.empty()) req.PutBytes(Field::kAad, aad);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kEncrypt, req));
  return ToBytes(r.GetBytes(Field::kCiphertext));
}

Result<SecretBytes> Client::Decrypt(std::string_view key, ByteView ciphertext, ByteView aad) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kCiphertext, ciphertext);
  if (!aad.empty()) req.PutBytes(Field::kAad, aad);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kDecrypt, req));
  return SecretBytes(*r.GetBytes(Field::kPlaintext));
}

Result<Bytes> Client::Mac(std::string_view key, ByteView data) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kData, data);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kMac, req));
  return ToBytes(r.GetBytes(Field::kMac));
}

Result<bool> Client::MacVerify(std::string_view key, ByteView data, ByteView mac) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kData, data).PutBytes(Field::kMac, mac);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kMacVerify, req));
  return *r.GetBool(Field::kValid);
}

Result<KeyInfo> Client::Derive(std::string_view base, std::string_view new_name, ByteView info,
                               ByteView salt, std::optional<KeyType> type) {
  Message req;
  PutKeyRef(req, base);
  req.PutString(Field::kNewName, new_name).PutBytes(Field::kInfo, info);
  if (!salt.empty()) req.PutBytes(Field::kSalt, salt);
  if (type) req.PutString(Field::kKeyType, KeyTypeName(*type));
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kDerive, req));
  return ParseEntry(*r.GetBytes(Field::kKeyEntry), Opcode::kDerive);
}

Result<KeyInfo> Client::Ecdh(std::string_view key, ByteView peer_public, std::string_view new_name,
                             ByteView info, std::optional<KeyType> type) {
  Message req;
  PutKeyRef(req, key);
  req.PutBytes(Field::kPeerPublic, peer_public).PutString(Field::kNewName, new_name);
  if (!info.empty()) req.PutBytes(Field::kInfo, info);
  if (type) req.PutString(Field::kKeyType, KeyTypeName(*type));
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kEcdh, req));
  return ParseEntry(*r.GetBytes(Field::kKeyEntry), Opcode::kEcdh);
}

Result<Bytes> Client::Random(size_t length) {
  if (length == 0 || length > (1u << 20)) {
    return Status(ErrorCode::kInvalidArgument, "random length must be 1 .. 1048576");
  }
  Message req;
  req.PutU32(Field::kLength, static_cast<uint32_t>(length));
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kRandom, req));
  return ToBytes(r.GetBytes(Field::kData));
}

Result<Bytes> Client::Seal(ByteView data, const std::vector<uint32_t>& bind_registers) {
  uint32_t mask = 0;
  for (uint32_t index : bind_registers) {
    if (index >= kRegisterCount) {
      return Status(ErrorCode::kInvalidArgument, "register " + std::to_string(index) +
                                                     " does not exist (0 to " +
                                                     std::to_string(kRegisterCount - 1) + ")");
    }
    mask |= 1u << index;
  }
  Message req;
  req.PutBytes(Field::kPlaintext, data);
  if (mask != 0) req.PutU32(Field::kRegisterMask, mask);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kSeal, req));
  return ToBytes(r.GetBytes(Field::kSealedBlob));
}

Result<SecretBytes> Client::Unseal(ByteView blob) {
  Message req;
  req.PutBytes(Field::kSealedBlob, blob);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kUnseal, req));
  return SecretBytes(*r.GetBytes(Field::kPlaintext));
}

Result<Client::Extended> Client::Extend(uint32_t index, const Digest256& digest,
                                        std::string_view description) {
  Message req;
  req.PutU32(Field::kRegister, index).PutBytes(Field::kDigest, digest);
  req.PutString(Field::kEvent, description);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kExtend, req));
  Extended out;
  out.seq = *r.GetU64(Field::kSeq);
  ET_ASSIGN_OR_RETURN(out.value, ToDigest(*r.GetBytes(Field::kRegisterValue)));
  return out;
}

Result<RegisterSnapshot> Client::ReadRegisters() {
  Message req;
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kReadRegisters, req));
  auto values = r.GetAll(Field::kRegisterValue);
  if (values.size() != kRegisterCount) {
    return Status(ErrorCode::kMalformed, "the daemon sent " + std::to_string(values.size()) +
                                             " register values, not " +
                                             std::to_string(kRegisterCount));
  }
  RegisterSnapshot snap;
  for (size_t i = 0; i < kRegisterCount; ++i) {
    ET_ASSIGN_OR_RETURN(snap.values[i], ToDigest(values[i]));
  }
  ET_ASSIGN_OR_RETURN(snap.log_digest, ToDigest(*r.GetBytes(Field::kLogDigest)));
  snap.log_count = *r.GetU64(Field::kLogCount);
  return snap;
}

Result<std::vector<LogEvent>> Client::ReadEventLog() {
  std::vector<LogEvent> events;
  for (;;) {
    Message req;
    req.PutU64(Field::kStart, events.size());
    ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kReadLog, req));
    auto entries = r.GetAll(Field::kLogEntry);
    for (ByteView body : entries) {
      ET_ASSIGN_OR_RETURN(Message e,
                          Message::Decode(body, Opcode::kReadLog, protocol::BodyKind::kLogEntry));
      LogEvent ev;
      ev.seq = *e.GetU64(Field::kSeq);
      if (ev.seq != events.size()) {
        return Status(ErrorCode::kMalformed, "the event log arrived out of order");
      }
      ev.register_index = *e.GetU32(Field::kRegister);
      ET_ASSIGN_OR_RETURN(ev.digest, ToDigest(*e.GetBytes(Field::kDigest)));
      ev.principal = std::string(*e.GetString(Field::kPrincipal));
      ev.description = std::string(*e.GetString(Field::kEvent));
      ev.time = *e.GetU64(Field::kTime);
      events.push_back(std::move(ev));
    }
    // Events may be added while paging; stop at the count of the last page, never loop forever
    // on an empty page.
    if (entries.empty() || events.size() >= *r.GetU64(Field::kLogCount)) break;
  }
  return events;
}

namespace {

Result<uint64_t> CounterCall(client::Connection& conn, Opcode op, std::string_view name) {
  Message req;
  PutKeyRef(req, name);
  ET_ASSIGN_OR_RETURN(Message r, conn.Call(op, req));
  return *r.GetU64(Field::kCounterValue);
}

}  // namespace

Result<uint64_t> Client::CreateCounter(std::string_view name) {
  return CounterCall(*impl_->conn, Opcode::kCounterCreate, name);
}

Result<uint64_t> Client::IncrementCounter(std::string_view name) {
  return CounterCall(*impl_->conn, Opcode::kCounterIncrement, name);
}

Result<uint64_t> Client::ReadCounter(std::string_view name) {
  return CounterCall(*impl_->conn, Opcode::kCounterRead, name);
}

Result<Bytes> Client::Attest(ByteView nonce) {
  ET_ASSIGN_OR_RETURN(AttestOutput out, AttestWithQuote(nonce));
  return std::move(out.evidence);
}

Result<Client::AttestOutput> Client::AttestWithQuote(ByteView nonce) {
  Message req;
  req.PutBytes(Field::kNonce, nonce);
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kAttest, req));
  AttestOutput out;
  out.evidence = ToBytes(r.GetBytes(Field::kEvidence));
  if (auto pcrs = r.GetBytes(Field::kQuotePcrs)) out.quote_pcrs = ToBytes(pcrs);
  return out;
}

Result<std::string> Client::AttestationKeyPem() {
  Message req;
  ET_ASSIGN_OR_RETURN(Message r, impl_->conn->Call(Opcode::kAttestKey, req));
  return std::string(*r.GetString(Field::kPublicPem));
}

}  // namespace edgetrust
