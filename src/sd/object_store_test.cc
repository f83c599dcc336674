// Unit tests of key object records and of the on-disk object store.
#include "sd/object_store.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/files.h"
#include "sd/crypto.h"

namespace edgetrust::sd {
namespace {

namespace fs = std::filesystem;

SecretBytes KeyOf(uint8_t fill) {
  SecretBytes k(kSymmetricKeySize);
  std::fill(k.data(), k.data() + k.size(), fill);
  return k;
}

ObjectHeader Header(std::string owner, std::string name, KeyType type = KeyType::kAes256) {
  ObjectHeader h;
  h.owner = std::move(owner);
  h.name = std::move(name);
  h.type = type;
  h.created = 1700000123;
  return h;
}

Bytes Material(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

Bytes ToBytes(ByteView v) { return Bytes(v.begin(), v.end()); }

// ---------------------------------------------------------------------------------------------
// Records

TEST(RecordTest, SealParseOpenRoundTrip) {
  const SecretBytes key = KeyOf(0x42);
  ObjectHeader h = Header("uid:1000", "device-identity", KeyType::kEcdsaP384);
  const Bytes material = Material(48, 3);
  auto rec = SealRecord(h, material, key);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_TRUE(std::equal(rec->begin(), rec->begin() + 4, "ETKO"));

  auto parsed = ParseRecord(*rec);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->header.owner, "uid:1000");
  EXPECT_EQ(parsed->header.name, "device-identity");
  EXPECT_EQ(parsed->header.type, KeyType::kEcdsaP384);
  EXPECT_EQ(parsed->header.created, 1700000123u);
  EXPECT_EQ(parsed->header.flags, 0u);
  // Associated data is everything before the nonce; the rest is nonce | ciphertext | tag.
  const size_t ad = 4 + 1 + 1 + 8 + 2 + h.owner.size() + 2 + h.name.size() + 4;
  EXPECT_EQ(parsed->associated_data.size(), ad);
  EXPECT_EQ(parsed->sealed.size(), kAeadNonceSize + material.size() + kAeadTagSize);
  EXPECT_EQ(rec->size(), ad + parsed->sealed.size());

  auto opened = OpenRecord(*parsed, key);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(ToBytes(opened->view()), material);
}

TEST(RecordTest, MaterialIsEncrypted) {
  const Bytes material(64, 0xA5);
  auto rec = SealRecord(Header("uid:1", "k"), material, KeyOf(1));
  ASSERT_TRUE(rec.ok());
  auto it = std::search(rec->begin(), rec->end(), material.begin(), material.begin() + 16);
  EXPECT_EQ(it, rec->end()) << "plaintext key material visible in the record";
  // A fresh nonce each time: sealing twice gives different records that both open.
  auto rec2 = SealRecord(Header("uid:1", "k"), material, KeyOf(1));
  ASSERT_TRUE(rec2.ok());
  EXPECT_NE(*rec, *rec2);
}

TEST(RecordTest, EveryFlippedByteIsDetected) {
  const SecretBytes key = KeyOf(7);
  ObjectHeader h = Header("container:" + std::string(64, 'e'), "k.1", KeyType::kHmacSha256);
  auto rec = SealRecord(h, Material(32, 9), key);
  ASSERT_TRUE(rec.ok());
  size_t parse_failures = 0;
  size_t auth_failures = 0;
  for (size_t pos = 0; pos < rec->size(); ++pos) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      Bytes bad = *rec;
      bad[pos] = static_cast<uint8_t>(bad[pos] ^ mask);
      auto parsed = ParseRecord(bad);
      if (!parsed.ok()) {
        EXPECT_EQ(parsed.status().code(), ErrorCode::kTampered) << "pos " << pos;
        ++parse_failures;
        continue;
      }
      auto opened = OpenRecord(*parsed, key);
      ASSERT_FALSE(opened.ok()) << "flipped byte " << pos << " (mask " << int{mask}
                                << ") went unnoticed";
      EXPECT_EQ(opened.status().code(), ErrorCode::kTampered) << "pos " << pos;
      ++auth_failures;
    }
  }
  // Both defences were exercised.
  EXPECT_GT(parse_failures, 0u);
  EXPECT_GT(auth_failures, 0u);
}

TEST(RecordTest, EveryTruncationIsDetected) {
  const SecretBytes key = KeyOf(7);
  auto rec = SealRecord(Header("uid:5", "k"), Material(32, 1), key);
  ASSERT_TRUE(rec.ok());
  for (size_t n = 0; n < rec->size(); ++n) {
    auto parsed = ParseRecord(ByteView(rec->data(), n));
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), ErrorCode::kTampered) << n;
      continue;
    }
    auto opened = OpenRecord(*parsed, key);
    ASSERT_FALSE(opened.ok()) << "truncated to " << n;
    EXPECT_EQ(opened.status().code(), ErrorCode::kTampered) << n;
  }
  // Trailing garbage is not accepted either.
  Bytes longer = *rec;
  longer.push_back(0);
  auto parsed = ParseRecord(longer);
  if (parsed.ok()) {
    EXPECT_EQ(OpenRecord(*parsed, key).status().code(), ErrorCode::kTampered);
  } else {
    EXPECT_EQ(parsed.status().code(), ErrorCode::kTampered);
  }
}

TEST(RecordTest, WrongStorageKeyIsTampered) {
  auto rec = SealRecord(Header("uid:5", "k"), Material(32, 1), KeyOf(1));
  ASSERT_TRUE(rec.ok());
  auto parsed = ParseRecord(*rec);
  ASSERT_TRUE(parsed.ok());
  auto opened = OpenRecord(*parsed, KeyOf(2));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kTampered);
}

TEST(RecordTest, BadHeadersRefusedWhenSealing) {
  EXPECT_FALSE(SealRecord(Header("", "k"), Material(8, 0), KeyOf(1)).ok());
  EXPECT_FALSE(SealRecord(Header("uid:1", ""), Material(8, 0), KeyOf(1)).ok());
  EXPECT_FALSE(
      SealRecord(Header("uid:1", std::string(0x10000, 'n')), Material(8, 0), KeyOf(1)).ok());
}

TEST(RecordTest, ParseRefusesGarbage) {
  EXPECT_EQ(ParseRecord({}).status().code(), ErrorCode::kTampered);
  Bytes junk(200, 0x5A);
  EXPECT_EQ(ParseRecord(junk).status().code(), ErrorCode::kTampered);
}

TEST(RecordFileNameTest, StableAndDistinct) {
  const std::string a = RecordFileName("uid:1000", "k");
  EXPECT_EQ(a, RecordFileName("uid:1000", "k"));
  ASSERT_EQ(a.size(), 44u);
  EXPECT_TRUE(a.ends_with(".key"));
  EXPECT_TRUE(std::all_of(a.begin(), a.begin() + 40, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  })) << a;
  EXPECT_NE(a, RecordFileName("uid:1001", "k"));
  EXPECT_NE(a, RecordFileName("uid:1000", "k2"));
  EXPECT_NE(a, RecordFileName("k", "uid:1000"));
  // The owner/name boundary is part of the hash.
  EXPECT_NE(RecordFileName("uid:1", "0k"), RecordFileName("uid:10", "k"));
}

TEST(RecordFileNameTest, MatchesDocumentedHash) {
  // Pins the naming scheme (changing it would orphan every stored key): the first 20 bytes of
  // SHA-256("edgetrust-sd key file v1" NUL owner NUL name), in lower-case hex, then ".key".
  const std::string in =
      std::string("edgetrust-sd key file v1") + '\0' + "uid:0" + '\0' + "device-identity";
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(in.data()), in.size(), digest);
  std::string expected;
  for (size_t i = 0; i < 20; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    expected += kHex[digest[i] >> 4];
    expected += kHex[digest[i] & 0x0F];
  }
  EXPECT_EQ(RecordFileName("uid:0", "device-identity"), expected + ".key");
}

// ---------------------------------------------------------------------------------------------
// ObjectStore in a temporary folder

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "et-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ObjectStore Store(uint8_t key_fill = 0x33) const { return ObjectStore(dir_, KeyOf(key_fill)); }
  std::string PathOf(std::string_view owner, std::string_view name) const {
    return dir_ + "/" + RecordFileName(owner, name);
  }
  static Bytes ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  static void WriteAll(const std::string& path, const Bytes& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }

  std::string dir_;
};

TEST_F(ObjectStoreTest, CreateLoadExistsRemove) {
  ObjectStore store = Store();
  const Bytes material = Material(32, 5);
  EXPECT_FALSE(store.Exists("uid:1000", "k"));
  EXPECT_EQ(store.Count(), 0u);
  ASSERT_TRUE(store.Create(Header("uid:1000", "k"), material).ok());
  EXPECT_TRUE(store.Exists("uid:1000", "k"));
  EXPECT_FALSE(store.Exists("uid:1001", "k"));
  EXPECT_FALSE(store.Exists("uid:1000", "K"));
  EXPECT_EQ(store.Count(), 1u);
  EXPECT_TRUE(fs::exists(PathOf("uid:1000", "k")));

  // Records are private to the daemon.
  struct stat st {};
  ASSERT_EQ(::stat(PathOf("uid:1000", "k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto loaded = store.Load("uid:1000", "k");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->first.owner, "uid:1000");
  EXPECT_EQ(loaded->first.name, "k");
  EXPECT_EQ(loaded->first.type, KeyType::kAes256);
  EXPECT_EQ(loaded->first.created, 1700000123u);
  EXPECT_EQ(ToBytes(loaded->second.view()), material);

  // Another store object over the same folder and key sees it too (persistence).
  auto again = Store().Load("uid:1000", "k");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ToBytes(again->second.view()), material);

  ASSERT_TRUE(store.Remove("uid:1000", "k").ok());
  EXPECT_FALSE(store.Exists("uid:1000", "k"));
  EXPECT_EQ(store.Count(), 0u);
  EXPECT_EQ(store.Remove("uid:1000", "k").code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.Load("uid:1000", "k").status().code(), ErrorCode::kNotFound);
}

TEST_F(ObjectStoreTest, CreateTwiceIsAlreadyExists) {
  ObjectStore store = Store();
  ASSERT_TRUE(store.Create(Header("uid:1", "k"), Material(32, 1)).ok());
  Status st = store.Create(Header("uid:1", "k"), Material(32, 2));
  EXPECT_EQ(st.code(), ErrorCode::kAlreadyExists) << st.ToString();
  // The first key is untouched.
  auto loaded = store.Load("uid:1", "k");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(ToBytes(loaded->second.view()), Material(32, 1));
  // The same name in another namespace is a different key.
  EXPECT_TRUE(store.Create(Header("uid:2", "k"), Material(32, 3)).ok());
  EXPECT_EQ(store.Count(), 2u);
}

TEST_F(ObjectStoreTest, LoadMissingIsNotFound) {
  auto r = Store().Load("uid:1", "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
}

TEST_F(ObjectStoreTest, SwappedFilesAreTampered) {
  ObjectStore store = Store();
  ASSERT_TRUE(store.Create(Header("uid:1000", "a"), Material(32, 1)).ok());
  ASSERT_TRUE(store.Create(Header("uid:1001", "b"), Material(32, 2)).ok());
  const std::string pa = PathOf("uid:1000", "a");
  const std::string pb = PathOf("uid:1001", "b");
  const Bytes ca = ReadAll(pa);
  const Bytes cb = ReadAll(pb);
  WriteAll(pa, cb);
  WriteAll(pb, ca);
  auto la = store.Load("uid:1000", "a");
  ASSERT_FALSE(la.ok());
  EXPECT_EQ(la.status().code(), ErrorCode::kTampered);
  EXPECT_NE(la.status().message().find("swapped"), std::string::npos) << la.status().message();
  auto lb = store.Load("uid:1001", "b");
  ASSERT_FALSE(lb.ok());
  EXPECT_EQ(lb.status().code(), ErrorCode::kTampered);
  EXPECT_NE(lb.status().message().find("swapped"), std::string::npos) << lb.status().message();

  auto scan = store.Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->size(), 2u);
  for (const auto& e : *scan) {
    EXPECT_FALSE(e.authentic) << e.file;
    EXPECT_TRUE(e.header.has_value());
    EXPECT_FALSE(e.problem.empty());
  }
}

TEST_F(ObjectStoreTest, ScanReportsRenamedFile) {
  ObjectStore store = Store();
  ASSERT_TRUE(store.Create(Header("uid:1", "good"), Material(32, 1)).ok());
  ASSERT_TRUE(store.Create(Header("uid:1", "moved"), Material(32, 2)).ok());
  const std::string renamed = RecordFileName("uid:1", "elsewhere");
  fs::rename(PathOf("uid:1", "moved"), dir_ + "/" + renamed);

  auto scan = store.Scan();
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  ASSERT_EQ(scan->size(), 2u);
  bool saw_good = false;
  bool saw_renamed = false;
  for (const auto& e : *scan) {
    if (e.file == RecordFileName("uid:1", "good")) {
      saw_good = true;
      EXPECT_TRUE(e.authentic) << e.problem;
      EXPECT_TRUE(e.problem.empty());
      ASSERT_TRUE(e.header.has_value());
      EXPECT_EQ(e.header->name, "good");
    } else if (e.file == renamed) {
      saw_renamed = true;
      EXPECT_FALSE(e.authentic);
      ASSERT_TRUE(e.header.has_value());
      EXPECT_EQ(e.header->name, "moved");
      EXPECT_NE(e.problem.find("renamed"), std::string::npos) << e.problem;
    }
  }
  EXPECT_TRUE(saw_good);
  EXPECT_TRUE(saw_renamed);
  // Under the new name it is a key named "moved", not "elsewhere".
  auto l = store.Load("uid:1", "elsewhere");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), ErrorCode::kTampered);
  EXPECT_EQ(store.Load("uid:1", "moved").status().code(), ErrorCode::kNotFound);
}

TEST_F(ObjectStoreTest, ScanReportsGarbageAndFlippedFiles) {
  ObjectStore store = Store();
  ASSERT_TRUE(store.Create(Header("uid:1", "flipped"), Material(32, 1)).ok());
  const std::string pf = PathOf("uid:1", "flipped");
  Bytes c = ReadAll(pf);
  c.back() = static_cast<uint8_t>(c.back() ^ 1);
  WriteAll(pf, c);
  WriteAll(dir_ + "/junk.key", Bytes(100, 0x11));

  auto l = store.Load("uid:1", "flipped");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), ErrorCode::kTampered);

  auto scan = store.Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->size(), 2u);
  for (const auto& e : *scan) {
    EXPECT_FALSE(e.authentic) << e.file;
    EXPECT_FALSE(e.problem.empty()) << e.file;
    EXPECT_EQ(e.header.has_value(), e.file != "junk.key") << e.file;
  }
}

TEST_F(ObjectStoreTest, OversizedFileIsTampered) {
  ObjectStore store = Store();
  WriteAll(PathOf("uid:1", "big"), Bytes(kMaxRecordSize + 1, 0));
  auto l = store.Load("uid:1", "big");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), ErrorCode::kTampered);
}

TEST_F(ObjectStoreTest, NonZeroFlagsAreTampered) {
  ObjectStore store = Store();
  ObjectHeader h = Header("uid:1", "flags");
  h.flags = 1;
  ASSERT_TRUE(store.Create(h, Material(32, 1)).ok());
  auto l = store.Load("uid:1", "flags");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), ErrorCode::kTampered);
  auto scan = store.Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->size(), 1u);
  EXPECT_FALSE((*scan)[0].authentic);
}

TEST_F(ObjectStoreTest, RemoveStaleTemporaries) {
  ObjectStore store = Store();
  ASSERT_TRUE(store.Create(Header("uid:1", "keep"), Material(32, 1)).ok());
  WriteAll(dir_ + "/.tmp.0123456789abcdef", Bytes(10, 1));
  WriteAll(dir_ + "/.tmp.fedcba9876543210", Bytes{});
  WriteAll(dir_ + "/.tmp.x.key", Bytes(3, 3));

  // Temporaries are neither counted nor scanned.
  EXPECT_EQ(store.Count(), 1u);
  auto scan = store.Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->size(), 1u);
  EXPECT_TRUE((*scan)[0].authentic);

  EXPECT_EQ(RemoveStaleTemporaries(store.dir()), 3u);
  EXPECT_FALSE(fs::exists(dir_ + "/.tmp.0123456789abcdef"));
  EXPECT_FALSE(fs::exists(dir_ + "/.tmp.fedcba9876543210"));
  EXPECT_FALSE(fs::exists(dir_ + "/.tmp.x.key"));
  EXPECT_TRUE(store.Exists("uid:1", "keep"));
  EXPECT_TRUE(store.Load("uid:1", "keep").ok());
  EXPECT_EQ(RemoveStaleTemporaries(store.dir()), 0u);
}

TEST_F(ObjectStoreTest, CreateLeavesNoTemporaries) {
  ObjectStore store = Store();
  ASSERT_TRUE(store.Create(Header("uid:1", "a"), Material(32, 1)).ok());
  ASSERT_EQ(store.Create(Header("uid:1", "a"), Material(32, 1)).code(), ErrorCode::kAlreadyExists);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".tmp.")) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(ObjectStoreTest, OtherStorageKeyIsTampered) {
  ASSERT_TRUE(Store(0x01).Create(Header("uid:1", "k"), Material(32, 1)).ok());
  ObjectStore other = Store(0x02);
  EXPECT_TRUE(other.Exists("uid:1", "k"));
  auto l = other.Load("uid:1", "k");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), ErrorCode::kTampered);
  auto scan = other.Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->size(), 1u);
  EXPECT_FALSE((*scan)[0].authentic);
  EXPECT_TRUE((*scan)[0].header.has_value());
  // The writer's key still opens it.
  EXPECT_TRUE(Store(0x01).Load("uid:1", "k").ok());
}

TEST_F(ObjectStoreTest, MissingFolder) {
  ObjectStore store(dir_ + "/absent", KeyOf(1));
  EXPECT_EQ(store.Count(), 0u);
  EXPECT_FALSE(store.Scan().ok());
  EXPECT_FALSE(store.Create(Header("uid:1", "k"), Material(32, 1)).ok());
}

}  // namespace
}  // namespace edgetrust::sd
