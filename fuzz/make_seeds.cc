// fuzz_make_seeds: writes the generated seed corpora of the fuzz targets with the real encoders
// (Message, EncodeHeader, SealRecord), so every seed is something the daemon or client really
// sends or stores, plus a few deliberately broken inputs next to them.
//
//   fuzz_make_seeds fuzz/corpus
//
// writes fuzz/corpus/request_decoder/, response_decoder/ and key_record/ (existing files of the
// same names are replaced; nothing else is touched). The config and cgroup corpora are plain text
// files kept by hand. Key records get a fresh nonce on every run, so re-running changes those
// files: only re-run when the formats change, and check the results in.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include "edgetrust/types.h"
#include "fuzz_util.h"
#include "protocol/message.h"
#include "protocol/wire.h"
#include "sd/crypto.h"
#include "sd/object_store.h"

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT   (normally fuzz/corpus)\n",
                 argc > 0 ? argv[0] : "fuzz_make_seeds");
    return 2;
  }
  fs::path root(argv[1]);
  RequestSeeds(root);
  ResponseSeeds(root);
  KeyRecordSeeds(root);
  return 0;
}
