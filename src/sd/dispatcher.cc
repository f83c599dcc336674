#include "sd/dispatcher.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <ctime>

#include "protocol/wire.h"
#include "sd/sealed_blob.h"
#include "sd/version.h"

namespace edgetrust::sd {

using protocol::Field;
using protocol::Message;
using protocol::Opcode;

bool IsValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

Status BadName(std::string_view name) {
  return Status(ErrorCode::kInvalidArgument,
                "invalid key name \"" + std::string(name) +
                    "\": use 1-64 of A-Z a-z 0-9 . _ - (not starting with .)");
}

Message EntryMessage(const KeyMeta& m) {
  Message e;
  e.PutString(Field::kName, m.id.name)
      .PutString(Field::kOwner, m.id.owner)
      .PutString(Field::kKeyType, KeyTypeName(m.type))
      .PutU64(Field::kCreated, m.created)
      .PutString(Field::kState, protocol::PrintableText(m.state, 256));
  return e;
}

Message EntryAnswer(const KeyMeta& m) {
  Message r;
  r.PutNested(Field::kKeyEntry, EntryMessage(m));
  return r;
}

// Output type of derive/ecdh: only symmetric keys can be made from derived bytes.
// The requested output type of derive/ecdh, if any: only symmetric keys can be made from
// derived bytes.
Result<std::optional<KeyType>> DerivedType(const Message& req) {
  auto t = req.GetString(Field::kKeyType);
  if (!t) return std::optional<KeyType>();
  auto parsed = ParseKeyType(*t);
  if (!parsed) {
    return Status(ErrorCode::kInvalidArgument, "unknown key type \"" + std::string(*t) + "\"");
  }
  if (*parsed != KeyType::kAes256 && *parsed != KeyType::kHmacSha256) {
    return Status(ErrorCode::kInvalidArgument, "derived keys must be aes-256 or hmac-sha256");
  }
  return parsed;
}

Result<SignAlgorithm> Algorithm(const Message& req) {
  auto name = req.GetString(Field::kAlgorithm);
  if (!name) return SignAlgorithm::kDefault;
  auto alg = ParseSignAlgorithm(*name);
  if (!alg)
    return Status(ErrorCode::kInvalidArgument,
                  "unknown signature algorithm \"" + std::string(*name) + "\"");
  return *alg;
}

}  // namespace

Result<KeyId> Dispatcher::Authorize(const Peer& peer, Opcode op, const Message& req) const {
  KeyId id;
  id.name = std::string(req.GetString(Field::kName).value_or(""));
  if (!IsValidKeyName(id.name)) return BadName(id.name);
  auto owner = req.GetString(Field::kOwner);
  id.owner = owner ? std::string(*owner) : peer.principal;
  if (id.owner != peer.principal) {
    if (!IsValidPrincipal(id.owner)) {
      return Status(ErrorCode::kInvalidArgument,
                    "invalid owner \"" + id.owner + "\": use uid:N or container:ID");
    }
    if (!policy_.Allows(peer.principal, id.owner, id.name, protocol::PolicyOperation(op))) {
      return Status(ErrorCode::kPermissionDenied, peer.principal + " has no grant to " +
                                                      std::string(protocol::PolicyOperation(op)) +
                                                      " with " + id.owner + "/" + id.name);
    }
  }
  return id;
}

Result<Message> Dispatcher::Info(const Peer& peer) {
  Message r;
  r.PutString(Field::kBackend, backend_.Name())
      .PutString(Field::kVersion, kVersionString)
      .PutU32(Field::kProtocolVersion, protocol::kProtocolVersion)
      .PutString(Field::kPrincipal, peer.principal)
      .PutU32(Field::kKeyCount, static_cast<uint32_t>(backend_.KeyCount(peer.principal)));
  for (KeyType t : backend_.SupportedKeyTypes())
    r.PutString(Field::kSupported, "key-type:" + std::string(KeyTypeName(t)));
  for (std::string_view op : {"sign", "verify", "encrypt", "decrypt", "mac", "derive", "ecdh",
                              "random", "seal", "measure", "counter", "attest"}) {
    r.PutString(Field::kSupported, "op:" + std::string(op));
  }
  r.PutString(Field::kSupported, "registers:" + std::to_string(kRegisterCount));
  r.PutString(Field::kCounterProtection,
              protocol::PrintableText(backend_.CounterProtection(), 256));
  for (const Feature& f : backend_.Features()) {
    r.PutString(Field::kFeature, protocol::PrintableText(
                                     f.name + (f.native ? " native " : " provided ") + f.how, 256));
  }
  r.PutString(Field::kStorageProtection, protocol::PrintableText(backend_.StorageProtection(), 32));
  if (std::string device = backend_.Device(); !device.empty()) {
    r.PutString(Field::kDevice, protocol::PrintableText(device, 256));
  }
  for (const auto& notice : backend_.Notices()) {
    r.PutString(Field::kNotice, protocol::PrintableText(notice, 512));
  }
  return r;
}

Result<KeyId> Dispatcher::CounterId(const Peer& peer, const Message& req) const {
  KeyId id{peer.principal, std::string(*req.GetString(Field::kName))};
  if (!IsValidKeyName(id.name)) {
    return Status(ErrorCode::kInvalidArgument,
                  "invalid counter name \"" + id.name +
                      "\": use 1-64 of A-Z a-z 0-9 . _ - (not starting with .)");
  }
  if (auto owner = req.GetString(Field::kOwner); owner && *owner != peer.principal) {
    if (!IsValidPrincipal(*owner)) {
      return Status(ErrorCode::kInvalidArgument,
                    "invalid owner \"" + std::string(*owner) + "\": use uid:N or container:ID");
    }
    if (!policy_.IsAdmin(peer.principal)) {
      return Status(ErrorCode::kPermissionDenied,
                    "only admin principals may use another principal's counters");
    }
    id.owner = std::string(*owner);
  }
  return id;
}

namespace {

std::string RegisterList(uint32_t mask) {
  std::string out;
  for (uint32_t i = 0; i < kRegisterCount; ++i) {
    if ((mask >> i) & 1u) out += (out.empty() ? "" : ", ") + std::to_string(i);
  }
  return out;
}

Digest256 ToDigest(ByteView v) {
  Digest256 d{};
  std::memcpy(d.data(), v.data(), d.size());
  return d;
}

uint64_t Now() { return static_cast<uint64_t>(::time(nullptr)); }

}  // namespace

Result<Message> Dispatcher::Seal(const Peer& peer, const Message& req) {
  SealedHeader header;
  header.owner = peer.principal;
  header.register_mask = req.GetU32(Field::kRegisterMask).value_or(0);
  if (header.register_mask >> kRegisterCount != 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "registers to bind must be 0-" + std::to_string(kRegisterCount - 1));
  }
  const RegisterSnapshot snap = registers_.Snapshot();
  for (uint32_t i = 0; i < kRegisterCount; ++i) {
    if ((header.register_mask >> i) & 1u) header.register_values.push_back(snap.values[i]);
  }
  ET_ASSIGN_OR_RETURN(Bytes blob, EncodeSealedHeader(header));
  ET_ASSIGN_OR_RETURN(Bytes sealed,
                      backend_.SealData(peer.principal, *req.GetBytes(Field::kPlaintext), blob));
  blob.insert(blob.end(), sealed.begin(), sealed.end());
  Message r;
  r.PutBytes(Field::kSealedBlob, blob);
  return r;
}

Result<Message> Dispatcher::Unseal(const Peer& peer, const Message& req) {
  ET_ASSIGN_OR_RETURN(ParsedSealedBlob blob, ParseSealedBlob(*req.GetBytes(Field::kSealedBlob)));
  if (blob.header.owner != peer.principal) {
    // Tell "another principal's blob" from "a damaged blob": only a blob that authenticates
    // under the named owner's key really is that owner's. Its plaintext is wiped unseen.
    auto theirs = backend_.UnsealData(blob.header.owner, blob.sealed, blob.associated_data);
    if (!theirs.ok()) return theirs.status();
    return Status(ErrorCode::kPermissionDenied, "this blob was sealed by " + blob.header.owner +
                                                    "; only that principal can unseal it");
  }
  ET_ASSIGN_OR_RETURN(SecretBytes plain,
                      backend_.UnsealData(peer.principal, blob.sealed, blob.associated_data));
  if (blob.header.register_mask != 0) {
    const RegisterSnapshot snap = registers_.Snapshot();
    uint32_t changed = 0;
    size_t k = 0;
    for (uint32_t i = 0; i < kRegisterCount; ++i) {
      if (((blob.header.register_mask >> i) & 1u) == 0) continue;
      if (snap.values[i] != blob.header.register_values[k++]) changed |= 1u << i;
    }
    if (changed != 0) {
      return Status(ErrorCode::kFailedPrecondition,
                    "the blob is bound to registers " + RegisterList(blob.header.register_mask) +
                        ", and register(s) " + RegisterList(changed) +
                        " changed since it was sealed");
    }
  }
  Message r;
  r.PutBytes(Field::kPlaintext, plain.view());
  return r;
}

Result<Message> Dispatcher::Extend(const Peer& peer, const Message& req) {
  const uint32_t index = *req.GetU32(Field::kRegister);
  ByteView digest = *req.GetBytes(Field::kDigest);
  if (digest.size() != 32) {
    return Status(ErrorCode::kInvalidArgument, "the digest must be 32 bytes (SHA-256)");
  }
  if (index >= kRegisterCount) {
    return Status(ErrorCode::kInvalidArgument, "register " + std::to_string(index) +
                                                   " does not exist (0 to " +
                                                   std::to_string(kRegisterCount - 1) + ")");
  }
  if (!policy_.MayExtend(peer.principal, index)) {
    return Status(ErrorCode::kPermissionDenied,
                  peer.principal + " may not extend register " + std::to_string(index) +
                      (index == 0 ? " (edgetrust-sd measures itself into it)" : " (policy)"));
  }
  ET_ASSIGN_OR_RETURN(RegisterBank::Extended ext,
                      registers_.Extend(index, ToDigest(digest), peer.principal,
                                        *req.GetString(Field::kEvent), Now()));
  spdlog::info("event=measure principal={} pid={} register={} seq={}", peer.principal, peer.pid,
               index, ext.seq);
  Message r;
  r.PutU64(Field::kSeq, ext.seq).PutBytes(Field::kRegisterValue, ext.value);
  return r;
}

Result<Message> Dispatcher::ReadLog(const Message& req) const {
  // 512 entries of at most ~500 bytes stay well inside one answer frame.
  constexpr size_t kPage = 512;
  const uint64_t start = req.GetU64(Field::kStart).value_or(0);
  const RegisterSnapshot snap = registers_.Snapshot();
  Message r;
  for (const LogEvent& e : registers_.LogPage(start, kPage)) {
    Message entry;
    entry.PutU64(Field::kSeq, e.seq)
        .PutU32(Field::kRegister, e.register_index)
        .PutBytes(Field::kDigest, e.digest)
        .PutString(Field::kPrincipal, e.principal)
        .PutString(Field::kEvent, e.description)
        .PutU64(Field::kTime, e.time);
    r.PutNested(Field::kLogEntry, entry);
  }
  r.PutU64(Field::kLogCount, snap.log_count);
  return r;
}

Result<Message> Dispatcher::Handle(const Peer& peer, Opcode op, const Message& req) {
  switch (op) {
    case Opcode::kInfo:
      return Info(peer);

    case Opcode::kKeyCreate: {
      std::string name(*req.GetString(Field::kName));
      if (!IsValidKeyName(name)) return BadName(name);
      auto type = ParseKeyType(*req.GetString(Field::kKeyType));
      if (!type) {
        return Status(
            ErrorCode::kInvalidArgument,
            "unknown key type \"" + std::string(*req.GetString(Field::kKeyType)) +
                "\": use ecdsa-p256, ecdsa-p384, ed25519, rsa-3072, aes-256 or hmac-sha256");
      }
      ET_ASSIGN_OR_RETURN(KeyMeta meta, backend_.CreateKey(KeyId{peer.principal, name}, *type));
      spdlog::info("event=key-create principal={} pid={} key={} type={}", peer.principal, peer.pid,
                   name, KeyTypeName(*type));
      return EntryAnswer(meta);
    }

    case Opcode::kKeyList: {
      std::optional<std::string_view> owner = peer.principal;
      if (auto o = req.GetString(Field::kOwner)) {
        if (*o != peer.principal) {
          if (*o != "*" && !IsValidPrincipal(*o)) {
            return Status(ErrorCode::kInvalidArgument, "invalid owner \"" + std::string(*o) +
                                                           "\": use uid:N, container:ID or *");
          }
          if (!policy_.IsAdmin(peer.principal)) {
            return Status(ErrorCode::kPermissionDenied,
                          "only admin principals may list another principal's keys");
          }
          owner = (*o == "*") ? std::nullopt : std::optional<std::string_view>(*o);
        }
      }
      ET_ASSIGN_OR_RETURN(auto keys, backend_.ListKeys(owner));
      Message r;
      for (const auto& k : keys) r.PutNested(Field::kKeyEntry, EntryMessage(k));
      return r;
    }

    case Opcode::kKeyPublic: {
      ET_ASSIGN_OR_RETURN(KeyId id, Authorize(peer, op, req));
      ET_ASSIGN_OR_RETURN(std::string pem, backend_.PublicKeyPem(id));
      Message r;
      r.PutString(Field::kPublicPem, pem);
      return r;
    }

    case Opcode::kKeyDelete: {
      ET_ASSIGN_OR_RETURN(KeyId id, Authorize(peer, op, req));
      ET_RETURN_IF_ERROR(backend_.DeleteKey(id));
      spdlog::info("event=key-delete principal={} pid={} key={}/{}", peer.principal, peer.pid,
                   id.owner, id.name);
      return Message();
    }

    case Opcode::kSign:
    case Opcode::kVerify: {
      ET_ASSIGN_OR_RETURN(KeyId id, Authorize(peer, op, req));
      auto data = req.GetBytes(Field::kData);
      auto digest = req.GetBytes(Field::kDigest);
      if (data.has_value() == digest.has_value()) {
        return Status(ErrorCode::kInvalidArgument, "give exactly one of data and digest");
      }
      ET_ASSIGN_OR_RETURN(SignAlgorithm requested, Algorithm(req));
      Message r;
      if (op == Opcode::kSign) {
        ET_ASSIGN_OR_RETURN(Bytes sig, backend_.Sign(id, requested, data, digest));
        r.PutBytes(Field::kSignature, sig);
      } else {
        ET_ASSIGN_OR_RETURN(bool valid, backend_.Verify(id, requested, data, digest,
                                                        *req.GetBytes(Field::kSignature)));
        r.PutBool(Field::kValid, valid);
      }
      return r;
    }

    case Opcode::kEncrypt: {
      ET_ASSIGN_OR_RETURN(KeyId id, Authorize(peer, op, req));
      ET_ASSIGN_OR_RETURN(Bytes ct,
                          backend_.Encrypt(id, *req.GetBytes(Field::kPlaintext),
                                           req.GetBytes(Field::kAad).value_or(ByteView{})));
      Message r;
      r.PutBytes(Field::kCiphertext, ct);
      return r;
    }

    case Opcode::kDecrypt: {
      ET_ASSIGN_OR_RETURN(KeyId id, Authorize(peer, op, req));
      ET_ASSIGN_OR_RETURN(SecretBytes pt,
                          backend_.Decrypt(id, *req.GetBytes(Field::kCiphertext),
                                           req.GetBytes(Field::kAad).value_or(ByteView{})));
      Message r;
      r.PutBytes(Field::kPlaintext, pt.view());
      return r;
    }

    case Opcode::kMac: {
      ET_ASSIGN_OR_RETURN(KeyId id, Authorize(peer, op, req));
      ET_ASSIGN_OR_RETURN(Bytes mac, backend_.Mac(id, *req.GetBytes(Field::kData)));
      Message r;
      r.PutBytes(Field::kMac, mac);
      return r;
    }

    case Opcode::kMacVerify: {
      ET_ASSIGN_OR_RETURN(KeyId id, Authorize(peer, op, req));
      ET_ASSIGN_OR_RETURN(bool valid, backend_.MacVerify(id, *req.GetBytes(Field::kData),
                                                         *req.GetBytes(Field::kMac)));
      Message r;
      r.PutBool(Field::kValid, valid);
      return r;
    }

    case Opcode::kDerive: {
      ET_ASSIGN_OR_RETURN(KeyId base, Authorize(peer, op, req));
      KeyId out{peer.principal, std::string(*req.GetString(Field::kNewName))};
      if (!IsValidKeyName(out.name)) return BadName(out.name);
      ET_ASSIGN_OR_RETURN(std::optional<KeyType> type, DerivedType(req));
      ET_ASSIGN_OR_RETURN(
          KeyMeta meta,
          backend_.Derive(base, out, type, req.GetBytes(Field::kSalt).value_or(ByteView{}),
                          *req.GetBytes(Field::kInfo)));
      spdlog::info("event=key-derive principal={} base={}/{} key={} type={}", peer.principal,
                   base.owner, base.name, out.name, KeyTypeName(meta.type));
      return EntryAnswer(meta);
    }

    case Opcode::kEcdh: {
      ET_ASSIGN_OR_RETURN(KeyId key, Authorize(peer, op, req));
      KeyId out{peer.principal, std::string(*req.GetString(Field::kNewName))};
      if (!IsValidKeyName(out.name)) return BadName(out.name);
      ET_ASSIGN_OR_RETURN(std::optional<KeyType> requested, DerivedType(req));
      const KeyType type = requested.value_or(KeyType::kHmacSha256);
      ET_ASSIGN_OR_RETURN(KeyMeta meta,
                          backend_.Ecdh(key, *req.GetBytes(Field::kPeerPublic), out, type,
                                        req.GetBytes(Field::kInfo).value_or(ByteView{})));
      spdlog::info("event=key-ecdh principal={} key={}/{} new={} type={}", peer.principal,
                   key.owner, key.name, out.name, KeyTypeName(type));
      return EntryAnswer(meta);
    }

    case Opcode::kRandom: {
      uint32_t n = *req.GetU32(Field::kLength);
      if (n == 0 || n > (1u << 20))
        return Status(ErrorCode::kInvalidArgument, "random length must be 1 .. 1048576");
      ET_ASSIGN_OR_RETURN(SecretBytes bytes, backend_.Random(n));
      Message r;
      r.PutBytes(Field::kData, bytes.view());
      return r;
    }

    case Opcode::kSeal:
      return Seal(peer, req);
    case Opcode::kUnseal:
      return Unseal(peer, req);
    case Opcode::kExtend:
      return Extend(peer, req);

    case Opcode::kReadRegisters: {
      const RegisterSnapshot snap = registers_.Snapshot();
      Message r;
      for (const auto& v : snap.values) r.PutBytes(Field::kRegisterValue, v);
      r.PutBytes(Field::kLogDigest, snap.log_digest).PutU64(Field::kLogCount, snap.log_count);
      return r;
    }

    case Opcode::kReadLog:
      return ReadLog(req);

    case Opcode::kCounterCreate:
    case Opcode::kCounterIncrement:
    case Opcode::kCounterRead: {
      ET_ASSIGN_OR_RETURN(KeyId id, CounterId(peer, req));
      if (op == Opcode::kCounterCreate && id.owner != peer.principal) {
        return Status(ErrorCode::kInvalidArgument,
                      "counters are created in the caller's own namespace");
      }
      Result<uint64_t> value = op == Opcode::kCounterCreate      ? backend_.CounterCreate(id)
                               : op == Opcode::kCounterIncrement ? backend_.CounterIncrement(id)
                                                                 : backend_.CounterRead(id);
      if (!value.ok()) return value.status();
      if (op != Opcode::kCounterRead) {
        spdlog::info("event=counter-{} principal={} counter={}/{} value={}",
                     op == Opcode::kCounterCreate ? "create" : "increment", peer.principal,
                     id.owner, id.name, *value);
      }
      Message r;
      r.PutU64(Field::kCounterValue, *value);
      return r;
    }

    case Opcode::kAttest: {
      ET_ASSIGN_OR_RETURN(Attester::Output out,
                          attester_.Attest(*req.GetBytes(Field::kNonce), peer.principal));
      Message r;
      r.PutBytes(Field::kEvidence, out.evidence);
      if (!out.quote_pcrs.empty()) r.PutBytes(Field::kQuotePcrs, out.quote_pcrs);
      return r;
    }

    case Opcode::kAttestKey: {
      ET_ASSIGN_OR_RETURN(std::string pem, attester_.PublicKeyPem());
      Message r;
      r.PutString(Field::kPublicPem, pem);
      return r;
    }
  }
  return Status(ErrorCode::kUnsupported, "unknown operation");
}

}  // namespace edgetrust::sd
