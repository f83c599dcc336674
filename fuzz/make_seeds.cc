// fuzz_make_seeds: writes the generated seed corpora of the fuzz targets with the real encoders
// (Message, EncodeHeader, SealRecord), so every seed is something the daemon or client really
// sends or stores, plus a few deliberately broken inputs next to them.
//
//   fuzz_make_seeds fuzz/corpus [NAME...]
//
// writes fuzz/corpus/request_decoder/, response_decoder/, key_record/, evidence/, attest_json/,
// sealed_blob/, counter_file/, tpm_quote/, cert_inventory/ and csr_policy/, or only the corpora
// NAMEd (existing files of the same names are replaced; nothing else is touched). The
// config and cgroup corpora are plain text files kept by hand. Key records get a fresh nonce on
// every run, so re-running changes those files: only re-run when the formats change, and check
// the results in.
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attest/cbor_util.h"
#include "attest/evidence.h"
#include "attest/sha256.h"
#include "common/hex.h"
#include "common/openssl_ptr.h"
#include "edgetrust/attestation.h"
#include "edgetrust/types.h"
#include "fuzz_attest_data.h"
#include "fuzz_util.h"
#include "identity/cert_builder.h"
#include "identity/csr.h"
#include "identity/csr_policy.h"
#include "identity/inventory.h"
#include "identity/pem.h"
#include "protocol/message.h"
#include "protocol/wire.h"
#include "sd/counter_store.h"
#include "sd/crypto.h"
#include "sd/object_store.h"
#include "sd/sealed_blob.h"

namespace {

namespace fs = std::filesystem;
using namespace edgetrust;  // NOLINT(google-build-using-namespace): a small tool
using protocol::BodyKind;
using protocol::Field;
using protocol::Message;
using protocol::Opcode;

constexpr std::string_view kContainer =
    "3f4b9c1d2e5a6078a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f70";

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "fuzz_make_seeds: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

class SeedDir {
 public:
  SeedDir(const fs::path& root, const char* name) : dir_(root / name) {
    fs::create_directories(dir_);
  }
  ~SeedDir() { std::printf("fuzz_make_seeds: %zu seed(s) in %s\n", count_, dir_.c_str()); }
  SeedDir(const SeedDir&) = delete;
  SeedDir& operator=(const SeedDir&) = delete;

  void Write(const std::string& name, ByteView bytes) {
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "fuzz_make_seeds: cannot write %s\n", (dir_ / name).c_str());
      std::exit(1);
    }
    ++count_;
  }

 private:
  fs::path dir_;
  size_t count_ = 0;
};

Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// One frame: header (with body_length = body size unless told otherwise) and body.
Bytes Frame(uint16_t opcode, ByteView body, uint64_t request_id,
            uint16_t version = protocol::kProtocolVersion) {
  protocol::FrameHeader h;
  h.version = version;
  h.opcode = opcode;
  h.request_id = request_id;
  h.body_length = static_cast<uint32_t>(body.size());
  auto header = protocol::EncodeHeader(h);
  return Concat({header, body});
}

Bytes Frame(Opcode op, const Message& m, uint64_t request_id) {
  return Frame(static_cast<uint16_t>(op), m.Encode(), request_id);
}

// A body field written by hand, for bodies the encoder cannot produce.
Bytes RawField(uint16_t tag, ByteView value, uint32_t length) {
  Bytes out;
  protocol::PutU16(out, tag);
  protocol::PutU32(out, length);
  out.insert(out.end(), value.begin(), value.end());
  return out;
}
Bytes RawField(uint16_t tag, ByteView value) {
  return RawField(tag, value, static_cast<uint32_t>(value.size()));
}

Bytes Filled(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 37);
  return b;
}

Message Entry(std::string_view name, std::string_view owner, std::string_view type,
              std::string_view state) {
  Message e;
  e.PutString(Field::kName, name)
      .PutString(Field::kOwner, owner)
      .PutString(Field::kKeyType, type)
      .PutU64(Field::kCreated, 1732233600)
      .PutString(Field::kState, state);
  return e;
}

// Checks a generated seed against the decoder, so a seed meant to be valid really is.
void ExpectDecodes(const Bytes& body, Opcode op, BodyKind kind, bool valid,
                   const std::string& name) {
  bool ok = Message::Decode(body, op, kind).ok();
  if (ok != valid) {
    std::fprintf(stderr, "fuzz_make_seeds: seed %s should %sdecode\n", name.c_str(),
                 valid ? "" : "not ");
    std::exit(1);
  }
}

void RequestSeeds(const fs::path& root) {
  SeedDir dir(root, "request_decoder");
  const std::string container_owner = "container:" + std::string(kContainer);
  auto p256 = Must(sd::GenerateKeyPair(KeyType::kEcdsaP256), "P-256 key");
  auto peer = Must(sd::GenerateKeyPair(KeyType::kEcdsaP256), "P-256 peer key");
  const std::string peer_pem = Must(sd::PublicKeyPem(peer.get()), "PEM");
  const std::string_view firmware = "firmware image v1.2.3\n";
  Bytes digest = Filled(32, 7);
  Bytes signature =
      Must(sd::SignMessage(p256.get(), SignAlgorithm::kEcdsaSha256, AsBytes(firmware)), "sign");
  auto sym = Must(sd::RandomBytes(32), "random key");
  Bytes ciphertext = Must(sd::AeadSeal(sym, AsBytes("hello, edge"), AsBytes("ctx")), "seal");
  Bytes mac = Must(sd::HmacSha256(sym, AsBytes(firmware)), "hmac");

  struct Req {
    const char* name;
    Opcode op;
    Message body;
  };
  Req reqs[] = {
      {"info", Opcode::kInfo, Message()},
      {"key-create", Opcode::kKeyCreate,
       std::move(Message()
                     .PutString(Field::kName, "device-identity")
                     .PutString(Field::kKeyType, "ecdsa-p256"))},
      {"key-create-aes", Opcode::kKeyCreate,
       std::move(
           Message().PutString(Field::kKeyType, "aes-256").PutString(Field::kName, "disk.key_1"))},
      {"key-list", Opcode::kKeyList, Message()},
      {"key-list-owner", Opcode::kKeyList,
       std::move(Message().PutString(Field::kOwner, container_owner))},
      {"key-public", Opcode::kKeyPublic,
       std::move(
           Message().PutString(Field::kOwner, "uid:0").PutString(Field::kName, "device-identity"))},
      {"key-delete", Opcode::kKeyDelete, std::move(Message().PutString(Field::kName, "old-key"))},
      {"sign-data", Opcode::kSign,
       std::move(Message()
                     .PutString(Field::kName, "device-identity")
                     .PutBytes(Field::kData, AsBytes(firmware))
                     .PutString(Field::kAlgorithm, "ecdsa-sha256"))},
      {"sign-digest", Opcode::kSign,
       std::move(Message()
                     .PutString(Field::kOwner, container_owner)
                     .PutString(Field::kName, "tls")
                     .PutBytes(Field::kDigest, digest))},
      {"verify-data", Opcode::kVerify,
       std::move(Message()
                     .PutString(Field::kName, "device-identity")
                     .PutBytes(Field::kData, AsBytes(firmware))
                     .PutBytes(Field::kSignature, signature))},
      {"verify-digest", Opcode::kVerify,
       std::move(Message()
                     .PutString(Field::kName, "rsa")
                     .PutBytes(Field::kDigest, digest)
                     .PutString(Field::kAlgorithm, "rsa-pss-sha256")
                     .PutBytes(Field::kSignature, Filled(384, 3)))},
      {"encrypt", Opcode::kEncrypt,
       std::move(Message()
                     .PutString(Field::kName, "disk")
                     .PutBytes(Field::kPlaintext, AsBytes("hello, edge"))
                     .PutBytes(Field::kAad, AsBytes("ctx")))},
      {"decrypt", Opcode::kDecrypt,
       std::move(Message()
                     .PutString(Field::kName, "disk")
                     .PutBytes(Field::kCiphertext, ciphertext)
                     .PutBytes(Field::kAad, AsBytes("ctx")))},
      {"mac", Opcode::kMac,
       std::move(
           Message().PutString(Field::kName, "hmac").PutBytes(Field::kData, AsBytes(firmware)))},
      {"mac-verify", Opcode::kMacVerify,
       std::move(Message()
                     .PutString(Field::kName, "hmac")
                     .PutBytes(Field::kData, AsBytes(firmware))
                     .PutBytes(Field::kMac, mac))},
      {"derive", Opcode::kDerive,
       std::move(Message()
                     .PutString(Field::kName, "hmac")
                     .PutString(Field::kNewName, "session-1")
                     .PutBytes(Field::kInfo, AsBytes("edgetrust session"))
                     .PutBytes(Field::kSalt, Filled(16, 1))
                     .PutString(Field::kKeyType, "aes-256"))},
      {"ecdh", Opcode::kEcdh,
       std::move(Message()
                     .PutString(Field::kName, "device-identity")
                     .PutBytes(Field::kPeerPublic, AsBytes(peer_pem))
                     .PutString(Field::kNewName, "shared")
                     .PutBytes(Field::kInfo, AsBytes("ecdh v1"))
                     .PutString(Field::kKeyType, "hmac-sha256"))},
      {"random", Opcode::kRandom, std::move(Message().PutU32(Field::kLength, 32))},
      {"seal", Opcode::kSeal,
       std::move(Message()
                     .PutBytes(Field::kPlaintext, AsBytes("wifi password"))
                     .PutU32(Field::kRegisterMask, 0x300))},
      {"unseal", Opcode::kUnseal,
       std::move(Message().PutBytes(Field::kSealedBlob, Concat({AsBytes("ETSB"), Filled(60, 4)})))},
      {"extend", Opcode::kExtend,
       std::move(Message()
                     .PutU32(Field::kRegister, 8)
                     .PutBytes(Field::kDigest, digest)
                     .PutString(Field::kEvent, "app v1.2 loaded"))},
      {"read-registers", Opcode::kReadRegisters, Message()},
      {"read-log", Opcode::kReadLog, std::move(Message().PutU64(Field::kStart, 512))},
      {"counter-create", Opcode::kCounterCreate,
       std::move(Message().PutString(Field::kName, "firmware"))},
      {"counter-increment", Opcode::kCounterIncrement,
       std::move(Message().PutString(Field::kOwner, "uid:0").PutString(Field::kName, "firmware"))},
      {"counter-read", Opcode::kCounterRead,
       std::move(Message().PutString(Field::kName, "firmware"))},
      {"attest", Opcode::kAttest, std::move(Message().PutBytes(Field::kNonce, Filled(32, 9)))},
      {"attest-key", Opcode::kAttestKey, Message()},
  };
  uint64_t id = 1;
  for (const auto& r : reqs) {
    ExpectDecodes(r.body.Encode(), r.op, BodyKind::kRequest, true, r.name);
    dir.Write(std::string("req-") + r.name + ".bin", Frame(r.op, r.body, id++));
  }

  // Several frames on one connection, as a client pipelines them.
  dir.Write(
      "stream-session.bin",
      Concat({Frame(Opcode::kInfo, reqs[0].body, 1), Frame(Opcode::kKeyCreate, reqs[1].body, 2),
              Frame(Opcode::kSign, reqs[7].body, 3), Frame(Opcode::kRandom, reqs[17].body, 4)}));
  // Frames the server skips (answering an error) before a good one.
  dir.Write("stream-version2-then-info.bin",
            Concat({Frame(static_cast<uint16_t>(Opcode::kSign), reqs[7].body.Encode(), 1, 2),
                    Frame(Opcode::kInfo, reqs[0].body, 2)}));
  dir.Write("stream-unknown-opcode-then-random.bin",
            Concat({Frame(99, AsBytes("whatever"), 1), Frame(Opcode::kRandom, reqs[17].body, 2)}));
  dir.Write("stream-bad-body-then-info.bin",
            Concat({Frame(static_cast<uint16_t>(Opcode::kSign), RawField(200, AsBytes("x")), 1),
                    Frame(Opcode::kInfo, reqs[0].body, 2)}));

  // Broken frames.
  Bytes info = Frame(Opcode::kInfo, reqs[0].body, 7);
  Bytes bad_magic = info;
  bad_magic[0] = 'X';
  dir.Write("bad-magic.bin", bad_magic);
  protocol::FrameHeader big;
  big.opcode = static_cast<uint16_t>(Opcode::kEncrypt);
  big.request_id = 8;
  big.body_length = protocol::kMaxBodySize + 1;
  auto big_header = protocol::EncodeHeader(big);
  dir.Write("oversized-length.bin", Concat({big_header, AsBytes("short")}));
  dir.Write("truncated-header.bin", ByteView(info).first(10));
  Bytes sign = Frame(Opcode::kSign, reqs[7].body, 9);
  dir.Write("truncated-body.bin", ByteView(sign).first(sign.size() - 5));

  // Frames whose body the schema rejects.
  struct BadBody {
    const char* name;
    Opcode op;
    Bytes body;
  };
  BadBody bad[] = {
      {"missing-required", Opcode::kSign, RawField(5, digest)},
      {"unknown-field", Opcode::kInfo, RawField(200, AsBytes("x"))},
      {"repeated-field", Opcode::kKeyDelete,
       Concat({RawField(1, AsBytes("a")), RawField(1, AsBytes("b"))})},
      {"field-too-large", Opcode::kSign,
       Concat({RawField(1, AsBytes("k")), RawField(5, Filled(65, 2))})},
      {"bad-utf8", Opcode::kKeyDelete, RawField(1, Bytes{'k', 0xff, 'y'})},
      {"nul-in-string", Opcode::kKeyDelete, RawField(1, Bytes{'k', 0, 'y'})},
      {"field-overruns-body", Opcode::kKeyDelete, RawField(1, AsBytes("key"), 40)},
      {"truncated-field-header", Opcode::kRandom, Bytes{0, 15, 0, 0}},
      {"field-not-allowed", Opcode::kRandom,
       Concat({RawField(15, Bytes{0, 0, 0, 32}), RawField(1, AsBytes("name"))})},
      {"bad-u32", Opcode::kRandom, RawField(15, Bytes{0, 0, 32})},
  };
  for (const auto& b : bad) {
    ExpectDecodes(b.body, b.op, BodyKind::kRequest, false, b.name);
    dir.Write(std::string("bad-body-") + b.name + ".bin",
              Frame(static_cast<uint16_t>(b.op), b.body, 10));
  }
}

void ResponseSeeds(const fs::path& root) {
  SeedDir dir(root, "response_decoder");
  const std::string container_owner = "container:" + std::string(kContainer);
  auto p256 = Must(sd::GenerateKeyPair(KeyType::kEcdsaP256), "P-256 key");
  const std::string pem = Must(sd::PublicKeyPem(p256.get()), "PEM");
  Bytes signature =
      Must(sd::SignMessage(p256.get(), SignAlgorithm::kEcdsaSha256, AsBytes("m")), "sign");

  auto write = [&](const std::string& name, Opcode op, BodyKind kind, const Bytes& body,
                   bool valid) {
    ExpectDecodes(body, op, kind, valid, name);
    dir.Write(name + ".bin", Concat({Bytes{fuzz::ResponseSelector(op, kind)}, body}));
  };
  auto ok = [&](const std::string& name, Opcode op, const Message& m) {
    write("resp-" + name, op, BodyKind::kResponse, m.Encode(), true);
  };

  Message info;
  info.PutString(Field::kBackend, "emulated")
      .PutString(Field::kVersion, "0.1.0")
      .PutU32(Field::kProtocolVersion, 1)
      .PutString(Field::kPrincipal, "uid:1000")
      .PutString(Field::kSupported, "ecdsa-p256")
      .PutString(Field::kSupported, "ed25519")
      .PutString(Field::kSupported, "aes-256")
      .PutU32(Field::kKeyCount, 3);
  ok("info", Opcode::kInfo, info);
  Message info_notices;
  info_notices.PutString(Field::kBackend, "emulated")
      .PutString(Field::kVersion, "0.1.0")
      .PutU32(Field::kProtocolVersion, 1)
      .PutString(Field::kPrincipal, "uid:0")
      .PutU32(Field::kKeyCount, 0)
      .PutString(Field::kCounterProtection, "emulated: partial restores detected")
      .PutString(Field::kNotice, "counters: counters.dat is older than counters.anchor");
  ok("info-notices", Opcode::kInfo, info_notices);
  Message log_entry;
  log_entry.PutU64(Field::kSeq, 0)
      .PutU32(Field::kRegister, 0)
      .PutBytes(Field::kDigest, Filled(32, 5))
      .PutString(Field::kPrincipal, "edgetrust-sd")
      .PutString(Field::kEvent, "edgetrust-sd 0.1.0, backend emulated")
      .PutU64(Field::kTime, 1732233600);
  ok("read-log", Opcode::kReadLog,
     Message().PutNested(Field::kLogEntry, log_entry).PutU64(Field::kLogCount, 1));
  write("log-entry", Opcode::kReadLog, BodyKind::kLogEntry, log_entry.Encode(), true);
  Message registers;
  for (uint8_t i = 0; i < 16; ++i) registers.PutBytes(Field::kRegisterValue, Filled(32, i));
  registers.PutBytes(Field::kLogDigest, Filled(32, 6)).PutU64(Field::kLogCount, 2);
  ok("read-registers", Opcode::kReadRegisters, registers);
  ok("extend", Opcode::kExtend,
     Message().PutU64(Field::kSeq, 3).PutBytes(Field::kRegisterValue, Filled(32, 8)));
  ok("counter-read", Opcode::kCounterRead, Message().PutU64(Field::kCounterValue, 7));
  ok("seal", Opcode::kSeal, Message().PutBytes(Field::kSealedBlob, Filled(80, 2)));
  ok("attest", Opcode::kAttest, Message().PutBytes(Field::kEvidence, Filled(900, 3)));
  ok("key-create", Opcode::kKeyCreate,
     Message().PutNested(Field::kKeyEntry,
                         Entry("device-identity", "uid:1000", "ecdsa-p256", "ok")));
  ok("key-list", Opcode::kKeyList,
     Message()
         .PutNested(Field::kKeyEntry, Entry("device-identity", "uid:1000", "ecdsa-p256", "ok"))
         .PutNested(Field::kKeyEntry, Entry("disk", container_owner, "aes-256", "ok"))
         .PutNested(Field::kKeyEntry, Entry("old", "uid:0", "rsa-3072",
                                            "tampered: key object failed authentication")));
  ok("key-list-empty", Opcode::kKeyList, Message());
  ok("key-public", Opcode::kKeyPublic, Message().PutString(Field::kPublicPem, pem));
  ok("key-delete", Opcode::kKeyDelete, Message());
  ok("sign", Opcode::kSign, Message().PutBytes(Field::kSignature, signature));
  ok("verify", Opcode::kVerify, Message().PutBool(Field::kValid, true));
  ok("encrypt", Opcode::kEncrypt, Message().PutBytes(Field::kCiphertext, Filled(12 + 11 + 16, 5)));
  ok("decrypt", Opcode::kDecrypt, Message().PutBytes(Field::kPlaintext, AsBytes("hello, edge")));
  ok("mac", Opcode::kMac, Message().PutBytes(Field::kMac, Filled(32, 9)));
  ok("mac-verify", Opcode::kMacVerify, Message().PutBool(Field::kValid, false));
  ok("derive", Opcode::kDerive,
     Message().PutNested(Field::kKeyEntry, Entry("session-1", "uid:1000", "aes-256", "ok")));
  ok("ecdh", Opcode::kEcdh,
     Message().PutNested(Field::kKeyEntry, Entry("shared", container_owner, "hmac-sha256", "ok")));
  ok("random", Opcode::kRandom, Message().PutBytes(Field::kData, Filled(32, 11)));

  write("error-sign", Opcode::kSign, BodyKind::kError,
        Message().PutString(Field::kMessage, "no key named device-identity").Encode(), true);
  write("error-empty", Opcode::kInfo, BodyKind::kError, Bytes{}, true);
  write("entry", Opcode::kKeyList, BodyKind::kKeyEntry,
        Entry("device-identity", "uid:0", "ed25519", "ok").Encode(), true);

  // Answers the client must refuse.
  Message no_state;
  no_state.PutString(Field::kName, "k")
      .PutString(Field::kOwner, "uid:0")
      .PutString(Field::kKeyType, "aes-256")
      .PutU64(Field::kCreated, 1);
  write("bad-entry-missing-state", Opcode::kKeyCreate, BodyKind::kResponse,
        Message().PutNested(Field::kKeyEntry, no_state).Encode(), false);
  Bytes short_created = Concat({RawField(1, AsBytes("k")), RawField(2, AsBytes("uid:0")),
                                RawField(3, AsBytes("aes-256")), RawField(20, Bytes{0, 0, 0, 1}),
                                RawField(21, AsBytes("ok"))});
  write("bad-entry-short-created", Opcode::kKeyList, BodyKind::kKeyEntry, short_created, false);
  Message no_count;
  no_count.PutString(Field::kBackend, "emulated")
      .PutString(Field::kVersion, "0.1.0")
      .PutU32(Field::kProtocolVersion, 1)
      .PutString(Field::kPrincipal, "uid:1000");
  write("bad-info-missing-keycount", Opcode::kInfo, BodyKind::kResponse, no_count.Encode(), false);
  write("bad-verify-valid-2", Opcode::kVerify, BodyKind::kResponse, RawField(18, Bytes{2}), false);
  write("bad-error-extra-field", Opcode::kSign, BodyKind::kError,
        Concat({RawField(22, AsBytes("oops")), RawField(7, Filled(8, 1))}), false);
  write("bad-random-unknown-opcode", static_cast<Opcode>(0), BodyKind::kResponse,
        RawField(4, Filled(4, 1)), false);
}

void KeyRecordSeeds(const fs::path& root) {
  SeedDir dir(root, "key_record");
  const SecretBytes storage_key{ByteView(fuzz::kStorageKey)};
  const std::string container_owner = "container:" + std::string(kContainer);
  struct Rec {
    const char* file;
    KeyType type;
    const char* owner;
    const char* name;
  };
  const Rec recs[] = {
      {"ecdsa-p256", KeyType::kEcdsaP256, "uid:0", "device-identity"},
      {"ecdsa-p384", KeyType::kEcdsaP384, "uid:1000", "attestation"},
      {"ed25519", KeyType::kEd25519, nullptr, "update-signing"},
      {"rsa-3072", KeyType::kRsa3072, "uid:0", "legacy-rsa"},
      {"aes-256", KeyType::kAes256, nullptr, "disk"},
      {"hmac-sha256", KeyType::kHmacSha256, "uid:1000", "session-base"},
  };
  Bytes p256_record;
  for (const auto& r : recs) {
    sd::ObjectHeader h;
    h.owner = r.owner != nullptr ? std::string(r.owner) : container_owner;
    h.name = r.name;
    h.type = r.type;
    h.created = 1732233600;
    SecretBytes material;
    if (IsAsymmetric(r.type)) {
      auto key = Must(sd::GenerateKeyPair(r.type), "key pair");
      material = Must(sd::EncodePrivateKey(key.get()), "PKCS#8");
    } else {
      material = Must(sd::RandomBytes(sd::kSymmetricKeySize), "random key");
    }
    Bytes record = Must(sd::SealRecord(h, material.view(), storage_key), "seal");
    if (!sd::OpenRecord(Must(sd::ParseRecord(record), "parse"), storage_key).ok()) {
      std::fprintf(stderr, "fuzz_make_seeds: a sealed record does not open\n");
      std::exit(1);
    }
    if (r.type == KeyType::kEcdsaP256) p256_record = record;
    dir.Write(std::string("record-") + r.file + ".key", record);
  }

  // Records that must not open.
  sd::ObjectHeader h;
  h.owner = "uid:0";
  h.name = "other-domain";
  h.type = KeyType::kAes256;
  h.created = 1;
  SecretBytes other_key{ByteView(Filled(32, 99))};
  auto material = Must(sd::RandomBytes(32), "random key");
  dir.Write("bad-other-storage-key.key",
            Must(sd::SealRecord(h, material.view(), other_key), "seal"));
  h.flags = 1;
  dir.Write("flags-set.key", Must(sd::SealRecord(h, material.view(), storage_key), "seal"));
  auto altered = [&](const char* name, size_t pos, uint8_t value) {
    Bytes b = p256_record;
    b[pos] = value;
    dir.Write(name, b);
  };
  altered("bad-magic.key", 0, 'X');
  altered("bad-format.key", 4, 2);
  altered("bad-key-type.key", 5, 9);
  altered("bad-owner-length.key", 15, 0xff);
  altered("bad-tag.key", p256_record.size() - 1, static_cast<uint8_t>(p256_record.back() ^ 1));
  dir.Write("truncated.key", ByteView(p256_record).first(40));
}

// --- Attestation: evidence/ and attest_json/ ---------------------------------------------------
// Evidence is signed with the fixed fuzz key of fuzz_attest_data.h over its nonce and log, so the
// valid seeds pass fuzz_evidence's verifier; every seed is checked to pass or fail as its name
// says ("valid-" pass, the rest fail).

EvpPkeyPtr AttestFuzzKey() {
  BioPtr bio(BIO_new_mem_buf(fuzz::kAttestFuzzPrivateKeyPem.data(),
                             static_cast<int>(fuzz::kAttestFuzzPrivateKeyPem.size())));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot read the attestation fuzz key\n");
    std::exit(1);
  }
  return key;
}

attest::DerSigner AttestSigner(EVP_PKEY* key) {
  return [key](ByteView tbs) -> Result<Bytes> {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, tbs.data(), tbs.size()) != 1) {
      return Status(ErrorCode::kInternal, "cannot sign");
    }
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, tbs.data(), tbs.size()) != 1) {
      return Status(ErrorCode::kInternal, "cannot sign");
    }
    sig.resize(len);
    return sig;
  };
}

// A COSE_Sign1 over `payload` with `protected_header`, correctly signed with `key`.
Bytes SignedSign1(EVP_PKEY* key, const Bytes& protected_header, const Bytes& payload,
                  const Bytes& kid) {
  attest::Sign1 s;
  s.protected_header = protected_header;
  s.payload = payload;
  s.kid = kid;
  Bytes der = Must(AttestSigner(key)(attest::SigStructure(s.protected_header, s.payload)), "sign");
  s.signature = Must(attest::EcdsaDerToRaw(der, 32), "raw signature");
  return attest::EncodeSign1(s);
}

// The claims of `payload` as a libcbor map without claim `drop`, with room for `extra` more.
// Each pair is copied by loading it with cbor_load(): the payload is our own, small and trusted.
attest::cbor::Item ClaimsMap(const Bytes& payload, int64_t drop, size_t extra) {
  namespace cbor = attest::cbor;
  cbor::Reader r(payload);
  const uint64_t n = Must(r.ReadMap("claims"), "claims map");
  std::vector<std::pair<cbor::Item, cbor::Item>> pairs;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t start = r.offset();
    const int64_t k = Must(r.ReadInt("key"), "claim key");
    const size_t key_end = r.offset();
    if (!r.Skip("value").ok()) std::exit(1);
    if (k == drop) continue;
    cbor_load_result lr;
    cbor::Item key_item(cbor_load(payload.data() + start, key_end - start, &lr));
    cbor::Item value(cbor_load(payload.data() + key_end, r.offset() - key_end, &lr));
    if (!key_item || !value) std::exit(1);
    pairs.emplace_back(std::move(key_item), std::move(value));
  }
  cbor::Item map = cbor::Map(pairs.size() + extra);
  for (const auto& [k, v] : pairs) cbor::Put(map, k, v);
  return map;
}

// A TPM quote as a TPM marshals it (Tss2_MU): TPMS_ATTEST and TPMT_SIGNATURE. No TPM is needed.
TpmQuoteClaim MarshalQuote(uint32_t pcr, TPM2_ST type, uint32_t magic, ByteView nonce,
                           ByteView pcr_digest, ByteView r, ByteView s) {
  TPMS_ATTEST a{};
  a.magic = magic;
  a.type = type;
  a.qualifiedSigner.size = 34;
  a.extraData.size = static_cast<UINT16>(nonce.size());
  std::copy(nonce.begin(), nonce.end(), a.extraData.buffer);
  a.clockInfo.clock = 123456;
  a.clockInfo.safe = 1;
  a.firmwareVersion = 0x2019012300000000ull;
  TPML_PCR_SELECTION& sel = a.attested.quote.pcrSelect;
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  sel.pcrSelections[0].pcrSelect[pcr / 8] = static_cast<BYTE>(1u << (pcr % 8));
  a.attested.quote.pcrDigest.size = static_cast<UINT16>(pcr_digest.size());
  std::copy(pcr_digest.begin(), pcr_digest.end(), a.attested.quote.pcrDigest.buffer);
  TpmQuoteClaim q;
  q.pcr = pcr;
  q.attest.resize(sizeof(TPMS_ATTEST));
  size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Marshal(&a, q.attest.data(), q.attest.size(), &off) != TSS2_RC_SUCCESS) {
    std::exit(1);
  }
  q.attest.resize(off);
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_ECDSA;
  sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
  sig.signature.ecdsa.signatureR.size = static_cast<UINT16>(r.size());
  std::copy(r.begin(), r.end(), sig.signature.ecdsa.signatureR.buffer);
  sig.signature.ecdsa.signatureS.size = static_cast<UINT16>(s.size());
  std::copy(s.begin(), s.end(), sig.signature.ecdsa.signatureS.buffer);
  q.signature.resize(sizeof(TPMT_SIGNATURE));
  off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, q.signature.data(), q.signature.size(), &off) !=
      TSS2_RC_SUCCESS) {
    std::exit(1);
  }
  q.signature.resize(off);
  return q;
}

// The tpm_quote target's input: u16 BE attest length, TPMS_ATTEST, TPMT_SIGNATURE.
Bytes QuoteInput(const TpmQuoteClaim& q) {
  Bytes out{static_cast<uint8_t>(q.attest.size() >> 8), static_cast<uint8_t>(q.attest.size())};
  out.insert(out.end(), q.attest.begin(), q.attest.end());
  out.insert(out.end(), q.signature.begin(), q.signature.end());
  return out;
}

void EvidenceSeeds(const fs::path& root) {
  namespace cbor = attest::cbor;
  SeedDir dir(root, "evidence");
  auto key = AttestFuzzKey();
  unsigned char* spki = nullptr;
  const int spki_len = i2d_PUBKEY(key.get(), &spki);
  if (spki_len <= 0) std::exit(1);
  const Bytes spki_der(spki, spki + spki_len);
  OPENSSL_free(spki);
  const Bytes ueid = attest::UeidFromPublicKeyDer(spki_der);
  const Bytes kid(ueid.begin() + 1, ueid.end());  // SHA-256 of the SPKI, as the daemon sets it

  const std::vector<LogEvent> log = fuzz::AttestFuzzLog();
  const ReferenceValues reference = fuzz::AttestFuzzReference();
  const LogReplay replay = Must(ReplayLog(log), "replay");
  EvidenceClaims claims;
  claims.nonce.assign(std::begin(fuzz::kAttestFuzzNonce), std::end(fuzz::kAttestFuzzNonce));
  claims.ueid = ueid;
  claims.iat = fuzz::kAttestFuzzIat;
  claims.dbgstat = 0;
  claims.profile = std::string(attest::kProfile);
  claims.uptime = 3600;
  claims.bootseed = Filled(32, 17);
  claims.swname = "edgetrust-sd 0.1.0";
  claims.registers = replay.registers;
  claims.log_digest = replay.log_digest;
  claims.log_count = replay.count;
  claims.backend = "emulated";
  claims.emulated = true;
  claims.requester = "uid:1000";

  auto verifier = Must(EvidenceVerifier::Create(fuzz::kAttestFuzzPublicKeyPem), "verifier");
  auto write = [&](const std::string& name, const Bytes& evidence) {
    const bool want_pass = name.starts_with("valid-");
    Verdict v = verifier.Verify(evidence, ByteView(fuzz::kAttestFuzzNonce), &log, &reference,
                                fuzz::kAttestFuzzNow);
    if (v.passed != want_pass) {
      std::fprintf(stderr, "fuzz_make_seeds: evidence seed %s should %s\n", name.c_str(),
                   want_pass ? "pass" : "fail");
      for (const auto& f : v.failures) std::fprintf(stderr, "  %s\n", f.c_str());
      std::exit(1);
    }
    dir.Write(name + ".cbor", evidence);
  };
  auto build = [&](const EvidenceClaims& c, const Bytes& with_kid) {
    return Must(attest::BuildEvidence(c, with_kid, AttestSigner(key.get())), "evidence");
  };

  const Bytes good = build(claims, kid);
  write("valid-emulated", good);
  EvidenceClaims tpm = claims;
  tpm.backend = "tpm";
  tpm.emulated = false;
  tpm.dbgstat = 3;
  write("valid-tpm-no-kid", build(tpm, {}));
  {
    // A quote over the mirror PCR of this log, signed with the same key as the evidence.
    const Digest256 base{};
    const Digest256 pcr = ReplayPcrMirror(base, log);
    const Digest256 pcr_digest = attest::Sha256({pcr});
    const ByteView nonce(fuzz::kAttestFuzzNonce);
    TpmQuoteClaim unsigned_quote =
        MarshalQuote(kMirrorPcr, TPM2_ST_ATTEST_QUOTE, TPM2_GENERATED_VALUE, nonce, pcr_digest,
                     Filled(32, 1), Filled(32, 2));
    const Bytes der = Must(AttestSigner(key.get())(unsigned_quote.attest), "quote signature");
    const Bytes raw = Must(attest::EcdsaDerToRaw(der, 32), "quote signature");
    TpmQuoteClaim q = MarshalQuote(kMirrorPcr, TPM2_ST_ATTEST_QUOTE, TPM2_GENERATED_VALUE, nonce,
                                   pcr_digest, ByteView(raw).first(32), ByteView(raw).last(32));
    q.pcr_base = base;
    EvidenceClaims quoted = tpm;
    quoted.tpm_quote = q;
    write("valid-tpm-quote", build(quoted, kid));
    EvidenceClaims other_pcr = quoted;
    other_pcr.tpm_quote->pcr_base[0] = 1;  // the log no longer replays to the quoted PCR
    write("bad-tpm-quote-other-base", build(other_pcr, kid));
  }

  // Extra claims a verifier must ignore, in a correctly signed payload.
  const Bytes payload = Must(attest::EncodeClaims(claims), "claims");
  {
    cbor::Item map = ClaimsMap(payload, 0, 2);
    cbor::Item nested = cbor::Array(2);
    cbor::Push(nested, cbor::Text("vendor"));
    cbor::Push(nested, cbor::Map(0));
    cbor::Put(map, cbor::Int(-80000), nested);
    cbor::Put(map, cbor::Int(999), cbor::Tag(1, cbor::Uint(1767225600)));
    write("valid-unknown-claims",
          SignedSign1(key.get(), attest::ProtectedHeaderEs256(), cbor::Serialize(map), kid));
  }
  dir.Write("claims-only.cbor", payload);

  auto altered = [&](const std::string& name, size_t pos, uint8_t mask) {
    Bytes b = good;
    b[pos] ^= mask;
    write(name, b);
  };
  altered("bad-signature-flipped", good.size() - 1, 0x01);
  altered("bad-payload-flipped", good.size() - 64 - 2 - 40, 0x20);
  altered("bad-kid-flipped", 12, 0x01);
  Bytes tag17 = good;
  tag17[0] = 0xd1;
  write("bad-tag17", tag17);
  write("bad-untagged", Bytes(good.begin() + 1, good.end()));
  Bytes trailing = good;
  trailing.push_back(0x00);
  write("bad-trailing", trailing);
  write("bad-truncated", Bytes(good.begin(), good.end() - 10));
  Bytes indefinite = good;
  indefinite[1] = 0x9f;  // the array of 4 as an indefinite-length array
  indefinite.push_back(0xff);
  write("bad-indefinite-array", indefinite);
  write("bad-empty", Bytes{});

  cbor::Item es384 = cbor::Map(1);
  cbor::Put(es384, cbor::Int(1), cbor::Int(-35));
  write("bad-alg-es384", SignedSign1(key.get(), cbor::Serialize(es384), payload, kid));
  cbor::Item crit = cbor::Map(2);
  cbor::Put(crit, cbor::Int(1), cbor::Int(-7));
  cbor::Put(crit, cbor::Int(2), cbor::Array(0));
  write("bad-crit", SignedSign1(key.get(), cbor::Serialize(crit), payload, kid));
  write("bad-kid-other-key", build(claims, Filled(32, 3)));

  EvidenceClaims other_nonce = claims;
  other_nonce.nonce = Filled(64, 5);
  write("bad-nonce-other", build(other_nonce, kid));
  EvidenceClaims stale = claims;
  stale.iat = fuzz::kAttestFuzzNow - 301;
  write("bad-too-old", build(stale, kid));
  EvidenceClaims future = claims;
  future.iat = fuzz::kAttestFuzzNow + 61;
  write("bad-future", build(future, kid));
  EvidenceClaims wrong_register = claims;
  wrong_register.registers[2][0] ^= 1;
  write("bad-register-mismatch", build(wrong_register, kid));
  EvidenceClaims wrong_count = claims;
  wrong_count.log_count += 1;
  write("bad-log-count", build(wrong_count, kid));
  EvidenceClaims wrong_profile = claims;
  wrong_profile.profile = "tag:example.com,2026:other";
  write("bad-profile", build(wrong_profile, kid));
  // A signed payload that is not valid claims: the log count claim is missing.
  {
    cbor::Item map = ClaimsMap(payload, attest::kClaimLogCount, 0);
    write("bad-claims-missing",
          SignedSign1(key.get(), attest::ProtectedHeaderEs256(), cbor::Serialize(map), kid));
  }
}

void AttestJsonSeeds(const fs::path& root) {
  SeedDir dir(root, "attest_json");
  auto write = [&](const std::string& name, uint8_t selector, std::string_view text) {
    const bool is_log = selector == fuzz::kAttestJsonLog;
    const bool parses = is_log ? ParseEventLogJson(text).ok() : ParseReferenceJson(text).ok();
    if (parses == name.starts_with("bad-")) {
      std::fprintf(stderr, "fuzz_make_seeds: seed %s should %sparse\n", name.c_str(),
                   parses ? "not " : "");
      std::exit(1);
    }
    dir.Write(name + ".json", Concat({Bytes{selector}, AsBytes(text)}));
  };
  const uint8_t kLog = fuzz::kAttestJsonLog;
  const uint8_t kRef = fuzz::kAttestJsonReference;
  const std::vector<LogEvent> log = fuzz::AttestFuzzLog();
  const std::string d = HexEncode(log[0].digest);
  const std::string entry = "{\"seq\":0,\"register\":2,\"digest\":\"" + d +
                            "\",\"principal\":\"uid:0\",\"event\":\"deploy\",\"time\":1767225600}";
  auto with = [&](std::string_view from, std::string_view to) {
    std::string e = entry;
    e.replace(e.find(from), from.size(), to);
    return "[" + e + "]";
  };

  write("log-sample", kLog, EventLogToJson(log));
  write("log-empty", kLog, "[]");
  write("log-pretty", kLog,
        "[\n  {\n    \"time\": 1767225600,\n    \"event\": \"deploy\",\n    \"principal\": "
        "\"uid:0\",\n    \"digest\": \"" +
            std::string(64, 'A') + "\",\n    \"register\": 15,\n    \"seq\": 0\n  }\n]\n");
  write("log-unicode", kLog,
        with("\"deploy\"", "\"caf\\u00e9 \\ud83d\\udd12 tab\\t nul\\u0000 \xe2\x82\xac\""));
  write("log-gap-replay-fails", kLog, "[" + entry + "," + with("\"seq\":0", "\"seq\":2").substr(1));
  write("bad-log-register", kLog, with("\"register\":2", "\"register\":16"));
  write("bad-log-digest-short", kLog, with(d, d.substr(2)));
  write("bad-log-digest-not-hex", kLog, with(d, std::string(64, 'z')));
  write("bad-log-seq-string", kLog, with("\"seq\":0", "\"seq\":\"0\""));
  write("bad-log-seq-negative", kLog, with("\"seq\":0", "\"seq\":-1"));
  write("bad-log-time-float", kLog, with("1767225600", "1.7e9"));
  write("bad-log-duplicate-key", kLog, with("\"seq\":0", "\"seq\":0,\"seq\":1"));
  write("bad-log-unknown-field", kLog, with("\"seq\":0", "\"seq\":0,\"pcr\":2"));
  write("bad-log-missing-field", kLog, with(",\"time\":1767225600", ""));
  write("bad-log-event-too-long", kLog, with("\"deploy\"", "\"" + std::string(256, 'x') + "\""));
  write("bad-log-principal-empty", kLog, with("\"uid:0\"", "\"\""));
  write("bad-log-not-array", kLog, entry);
  write("bad-log-deep", kLog, "[[[[[[[[]]]]]]]]");
  write("bad-log-syntax", kLog, "[{\"seq\":0,}]");
  write("bad-log-trailing", kLog, "[] []");

  const std::string h2 = std::string(64, 'b');
  write("ref-full", kRef,
        "{\"registers\": {\"2\": \"" + h2 + "\", \"15\": \"" + std::string(64, 'C') +
            "\"},\n \"events\": [{\"register\": 3, \"digest\": \"" + d +
            "\", \"event\": \"update rootfs 4.2.0\"}, {\"register\": 1, \"digest\": \"" + h2 +
            "\"}],\n \"allow_emulated\": true, \"max_age_seconds\": 300}\n");
  write("ref-empty", kRef, "{}");
  write("ref-strict", kRef, "{\"allow_emulated\": false, \"registers\": {\"0\": \"" + h2 + "\"}}");
  write("bad-ref-unknown-key", kRef, "{\"allow_emulated\": true, \"max_age\": 300}");
  write("bad-ref-index-leading-zero", kRef, "{\"registers\": {\"02\": \"" + h2 + "\"}}");
  write("bad-ref-index-16", kRef, "{\"registers\": {\"16\": \"" + h2 + "\"}}");
  write("bad-ref-digest", kRef, "{\"registers\": {\"2\": \"abc\"}}");
  write("bad-ref-event-missing-digest", kRef, "{\"events\": [{\"register\": 2}]}");
  write("bad-ref-allow-emulated-string", kRef, "{\"allow_emulated\": \"yes\"}");
  write("bad-ref-max-age-negative", kRef, "{\"max_age_seconds\": -5}");
  write("bad-ref-not-object", kRef, "[]");
}

}  // namespace

// Sealed blobs as the daemon makes them (header from EncodeSealedHeader, AES-256-GCM under the
// owner's key derived from the fixed key, as fuzz_sealed_blob opens them), and broken ones.
void SealedBlobSeeds(const fs::path& root) {
  SeedDir dir(root, "sealed_blob");
  auto seal = [](uint32_t mask, const std::string& owner, ByteView data) {
    sd::SealedHeader h;
    h.register_mask = mask;
    for (uint32_t i = 0; i < kRegisterCount; ++i) {
      if ((mask >> i) & 1u) {
        Digest256 v{};
        v.fill(static_cast<uint8_t>(0x10 + i));
        h.register_values.push_back(v);
      }
    }
    h.owner = owner;
    Bytes blob = Must(sd::EncodeSealedHeader(h), "sealed header");
    SecretBytes key = Must(
        sd::HkdfSha256(ByteView(fuzz::kStorageKey), ByteView{}, AsBytes(owner), 32), "sealing key");
    Bytes sealed = Must(sd::AeadSeal(key, data, blob), "seal");
    blob.insert(blob.end(), sealed.begin(), sealed.end());
    return blob;
  };
  const std::string container = "container:" + std::string(kContainer);
  dir.Write("unbound-uid0.blob", seal(0, "uid:0", AsBytes("wifi password")));
  dir.Write("bound-8-9.blob", seal(0x300, "uid:1000", AsBytes("disk key material")));
  dir.Write("bound-all.blob", seal(0xFFFF, container, Filled(64, 7)));
  dir.Write("empty-data.blob", seal(0x1, "uid:0", ByteView{}));
  Bytes other_owner = seal(0, "uid:0", AsBytes("x"));
  other_owner[16] = '1';  // "uid:1" now names the owner: authentication must fail
  dir.Write("bad-owner-changed.blob", other_owner);
  Bytes short_blob = seal(0x2, "uid:0", AsBytes("x"));
  short_blob.resize(20);
  dir.Write("bad-truncated.blob", short_blob);
  Bytes format2 = seal(0, "uid:0", AsBytes("x"));
  format2[4] = 2;
  dir.Write("bad-format-2.blob", format2);
}

// Counter files (data and anchor roles) written by CounterStore::EncodeFile with the fixed key.
void CounterFileSeeds(const fs::path& root) {
  SeedDir dir(root, "counter_file");
  const SecretBytes key{ByteView(fuzz::kStorageKey)};
  sd::CounterStore::Table table;
  table[{"uid:0", "firmware"}] = {7, 1732233600};
  table[{"container:" + std::string(kContainer), "deployments"}] = {123456789, 1732233601};
  auto write = [&](const std::string& name, char role, const sd::CounterStore::Table& t,
                   uint64_t generation) {
    Bytes file = sd::CounterStore::EncodeFile(t, generation, role, key);
    Bytes input{static_cast<uint8_t>(role == 'A' ? 1 : 0)};
    input.insert(input.end(), file.begin(), file.end());
    dir.Write(name, input);
    return input;
  };
  write("data-two-counters.bin", 'D', table, 42);
  write("anchor-two-counters.bin", 'A', table, 42);
  write("data-empty.bin", 'D', {}, 1);
  Bytes swapped = write("bad-role-swapped.bin", 'D', table, 3);
  swapped[0] = 1;  // read as an anchor
  dir.Write("bad-role-swapped.bin", swapped);
  Bytes flipped = write("bad-flipped.bin", 'D', table, 4);
  flipped.back() ^= 1;
  dir.Write("bad-flipped.bin", flipped);
}

// Seeds of the tpm_quote target; their signatures are not valid (the evidence seeds have one
// that is).
void TpmQuoteSeeds(const fs::path& root) {
  SeedDir dir(root, "tpm_quote");
  const Bytes nonce16 = Filled(16, 3), nonce64 = Filled(64, 5), digest = Filled(32, 7);
  const Bytes r = Filled(32, 9), s31 = Filled(31, 11);  // the TPM may drop a leading zero
  auto quote = [&](uint32_t pcr, TPM2_ST type, uint32_t magic, const Bytes& nonce) {
    return QuoteInput(MarshalQuote(pcr, type, magic, nonce, digest, r, s31));
  };
  dir.Write("quote-pcr23.bin", quote(23, TPM2_ST_ATTEST_QUOTE, TPM2_GENERATED_VALUE, nonce16));
  dir.Write("quote-pcr16-nonce64.bin",
            quote(16, TPM2_ST_ATTEST_QUOTE, TPM2_GENERATED_VALUE, nonce64));
  dir.Write("bad-not-generated.bin", quote(23, TPM2_ST_ATTEST_QUOTE, 0x12345678, nonce16));
  dir.Write("bad-certify-type.bin",
            quote(23, TPM2_ST_ATTEST_CERTIFY, TPM2_GENERATED_VALUE, nonce16));
  Bytes trailing = quote(23, TPM2_ST_ATTEST_QUOTE, TPM2_GENERATED_VALUE, nonce16);
  trailing.push_back(0);
  dir.Write("bad-trailing.bin", trailing);
  Bytes cut = quote(23, TPM2_ST_ATTEST_QUOTE, TPM2_GENERATED_VALUE, nonce16);
  cut.resize(cut.size() / 2);
  dir.Write("bad-truncated.bin", cut);
}

// The certificate inventory (identity/inventory.h): files SerializeInventory writes, and one
// broken copy per rule of the parser.
void CertInventorySeeds(const fs::path& root) {
  namespace id = identity;
  SeedDir dir(root, "cert_inventory");
  id::Inventory inv;
  inv.device_id = "gw-0042";
  id::InventoryEntry ca;
  ca.name = "device-ca";
  ca.issuer = "self";
  ca.profile = id::Profile::kCa;
  ca.subject = Must(id::ParseSubject("/CN=gw-0042 device CA/O=EdgeTrust"), "subject");
  ca.days = 3650;
  id::InventoryEntry dev;
  dev.name = "device-id";
  dev.issuer = "device-ca";
  dev.profile = id::Profile::kClientServer;
  dev.subject = Must(id::ParseSubject("/CN=gw-0042/O=EdgeTrust"), "subject");
  dev.sans = Must(id::ParseSans({"URI:urn:edgetrust:device:gw-0042", "DNS:gw-0042"}), "sans");
  dev.days = 365;
  dev.fresh_key = true;
  id::InventoryEntry ext;
  ext.name = "cloud-client";
  ext.issuer = "external";
  ext.profile = id::Profile::kClient;
  ext.subject = Must(id::ParseSubject(R"(/C=DE/O=Acme\/Plant 4/CN=gw-0042)"), "subject");
  ext.sans = Must(id::ParseSans({"IP:10.0.0.7", "IP:fd00::7", "email:ops@example.com"}), "sans");
  ext.days = 90;
  ext.renew_share = 0.66;
  ext.key_type = KeyType::kEcdsaP384;
  inv.entries = {ca, dev, ext};
  auto write = [&](const std::string& name, const std::string& text, bool valid) {
    if (id::ParseInventory(text).ok() != valid) {
      std::fprintf(stderr, "fuzz_make_seeds: inventory seed %s should %sparse\n", name.c_str(),
                   valid ? "" : "not ");
      std::exit(1);
    }
    dir.Write(name, AsBytes(text));
  };
  const std::string full = id::SerializeInventory(inv);
  write("valid-provisioned.json", full, true);
  write("valid-empty.json", R"({"version": 1, "identities": []})", true);
  write("valid-minimal.json",
        R"({"version":1,"identities":[{"name":"ca","issuer":"self","profile":"ca",)"
        R"("subject":"/CN=ca","days":1}]})",
        true);
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = full;
    const auto pos = t.find(from);
    if (pos == std::string::npos) {
      std::fprintf(stderr, "fuzz_make_seeds: %s not in the inventory\n", from.c_str());
      std::exit(1);
    }
    return t.replace(pos, from.size(), to);
  };
  write("bad-version.json", replace("\"version\": 1", "\"version\": 2"), false);
  write("bad-unknown-field.json", replace("\"days\": 365", "\"days\": 365, \"colour\": 1"), false);
  write("bad-days.json", replace("\"days\": 365", "\"days\": 0"), false);
  write("bad-share.json", replace("\"renew_share\": 0.66", "\"renew_share\": 1.5"), false);
  write("bad-subject.json", replace("/CN=gw-0042/O=EdgeTrust", "CN=gw-0042"), false);
  write("bad-san.json", replace("DNS:gw-0042", "DNS:-gw"), false);
  write("bad-issuer.json", replace("\"issuer\": \"device-ca\"", "\"issuer\": \"nobody\""), false);
  write("bad-duplicate.json", replace("\"cloud-client\"", "\"device-id\""), false);
  write("bad-profile.json", replace("\"client-server\"", "\"admin\""), false);
  write("bad-key-type.json", replace("\"ecdsa-p384\"", "\"aes-256\""), false);
  write("bad-truncated.json", full.substr(0, full.size() / 2), false);
  write("bad-not-object.json", "[1, 2, 3]", false);
}

// CSRs as `edgetrust cert issue` receives them: one selector byte (fuzz_csr_policy.cc), then PEM
// or DER made by the real CSR builder with software keys of every type, plus broken ones.
void CsrPolicySeeds(const fs::path& root) {
  namespace id = identity;
  SeedDir dir(root, "csr_policy");
  auto key_of = [](KeyType t) { return Must(sd::GenerateKeyPair(t), "key"); };
  auto csr = [](const std::string& subject, const std::vector<std::string>& sans, EVP_PKEY* k) {
    auto req = Must(id::BuildCsr(Must(id::ParseSubject(subject), "subject"),
                                 Must(id::ParseSans(sans), "sans"), k, nullptr),
                    "CSR");
    return req;
  };
  auto der_of = [](X509_REQ* req) {
    unsigned char* der = nullptr;
    const int len = i2d_X509_REQ(req, &der);
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
  };
  // Checks each seed against the policy (valid ones pass, bad-* ones fail) before writing it.
  auto write = [&](const std::string& name, uint8_t selector, const Bytes& body) {
    static constexpr id::Profile kProfiles[4] = {id::Profile::kClient, id::Profile::kServer,
                                                 id::Profile::kClientServer, id::Profile::kClient};
    id::CsrRequest request;
    request.profile = kProfiles[selector & 3];
    if ((selector & 4) != 0) request.extra_sans = {id::San{id::SanType::kDns, "extra.example"}};
    const bool valid = name.rfind("bad-", 0) != 0;
    if (id::PlanFromCsr(body, request).ok() != valid) {
      std::fprintf(stderr, "fuzz_make_seeds: CSR seed %s should %spass the policy\n", name.c_str(),
                   valid ? "" : "not ");
      std::exit(1);
    }
    dir.Write(name, Concat({Bytes{selector}, body}));
  };
  auto p256 = key_of(KeyType::kEcdsaP256);
  auto server = csr("/CN=mqtt.local/O=Acme", {"DNS:mqtt.local", "IP:127.0.0.1"}, p256.get());
  const std::string server_pem = id::CsrToPem(server.get());
  write("server-p256.pem", 1, Bytes(server_pem.begin(), server_pem.end()));
  write("server-p256.der", 1, der_of(server.get()));
  write("client-extra-san.der", 4, der_of(server.get()));
  auto p384 = key_of(KeyType::kEcdsaP384);
  write("client-p384.der", 0,
        der_of(csr("/CN=sensor-7/OU=Plant 4/C=DE", {"URI:urn:acme:sensor:7"}, p384.get()).get()));
  auto ed = key_of(KeyType::kEd25519);
  write("both-ed25519.der", 2,
        der_of(csr("/CN=gw/emailAddress=ops@example.com", {"DNS:gw", "email:ops@example.com"},
                   ed.get())
                   .get()));
  auto rsa = key_of(KeyType::kRsa3072);
  write("client-rsa.der", 0, der_of(csr("/CN=legacy", {}, rsa.get()).get()));
  // A request for CA powers (ignored by the policy) and one signed by another key.
  X509ReqPtr greedy(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(greedy.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("greedy"), -1, -1, 0);
  X509_REQ_set_pubkey(greedy.get(), p256.get());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, nullptr, nullptr, greedy.get(), nullptr, 0);
  X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  sk_X509_EXTENSION_push(
      exts.get(), X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  sk_X509_EXTENSION_push(exts.get(),
                         X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                                             "DNS:greedy.example,otherName:1.2.3.4;UTF8:x"));
  X509_REQ_add_extensions(greedy.get(), exts.get());
  X509_REQ_sign(greedy.get(), p256.get(), EVP_sha256());
  write("bad-greedy-othername.der", 0, der_of(greedy.get()));
  X509ReqPtr forged(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(forged.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("forged"), -1, -1, 0);
  X509_REQ_set_pubkey(forged.get(), p256.get());
  X509_REQ_sign(forged.get(), p384.get(), EVP_sha384());
  write("bad-forged-signature.der", 0, der_of(forged.get()));
  Bytes truncated = der_of(server.get());
  truncated.resize(truncated.size() / 2);
  write("bad-truncated.der", 0, truncated);
  write("bad-server-without-host.der", 1, der_of(csr("/CN=x", {"URI:urn:x:y"}, p256.get()).get()));
  const std::string cert_block =
      id::EncodePem("CERTIFICATE", der_of(server.get()));  // a CSR under the wrong label
  write("bad-label.pem", 0, Bytes(cert_block.begin(), cert_block.end()));
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s CORPUS_ROOT [NAME...]   (normally fuzz/corpus; NAMEs pick "
                 "corpora, default all)\n",
                 argc > 0 ? argv[0] : "fuzz_make_seeds");
    return 2;
  }
  fs::path root(argv[1]);
  const std::vector<std::pair<std::string, void (*)(const fs::path&)>> generators = {
      {"request_decoder", RequestSeeds},      {"response_decoder", ResponseSeeds},
      {"key_record", KeyRecordSeeds},         {"evidence", EvidenceSeeds},
      {"attest_json", AttestJsonSeeds},       {"sealed_blob", SealedBlobSeeds},
      {"counter_file", CounterFileSeeds},     {"tpm_quote", TpmQuoteSeeds},
      {"cert_inventory", CertInventorySeeds}, {"csr_policy", CsrPolicySeeds}};
  for (int i = 2; i < argc; ++i) {
    bool known = false;
    for (const auto& g : generators) known = known || g.first == argv[i];
    if (!known) {
      std::fprintf(stderr, "fuzz_make_seeds: no generated corpus named %s\n", argv[i]);
      return 2;
    }
  }
  for (const auto& g : generators) {
    bool selected = argc == 2;
    for (int i = 2; i < argc; ++i) selected = selected || g.first == argv[i];
    if (selected) g.second(root);
  }
  return 0;
}
