// The state folder: keys survive restarts; flipped, swapped and renamed objects are reported as
// tampering; kill -9 in the middle of key creation leaves a readable store with nothing
// half-written.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "edgetrust/client.h"
#include "harness.h"
#include "sd/object_store.h"

namespace edgetrust::test {
namespace {

namespace fs = std::filesystem;

// A key record in the stored format (magic, format 1, ed25519, owner, name, flags) whose sealed
// part is junk: what an attacker with write access to the state folder can forge, since only the
// secure domain holds the storage key. Names up to 255 bytes.
std::string ForgedRecord(const std::string& owner, const std::string& name) {
  std::string rec = "ETKO";
  rec += '\x01';
  rec += '\x03';
  rec += std::string(8, '\0');
  rec += static_cast<char>(owner.size() >> 8);
  rec += static_cast<char>(owner.size() & 0xFF);
  rec += owner;
  rec += '\0';
  rec += static_cast<char>(name.size());
  rec += name;
  rec += std::string(4, '\0') + std::string(40, 'x');
  return rec;
}

class SdPersistenceTest : public ::testing::Test {
 protected:
  // `config` is the daemon's TOML config; "" for none.
  void Start(const std::string& config = "") {
    SdProcess::Options o;
    o.config_text = config;
    sd_ = std::make_unique<SdProcess>(dir_, o);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    auto c = Client::Connect(sd_->socket());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
  }
  void Stop() {
    client_.reset();
    ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
  }
  void TearDown() override {
    client_.reset();
    if (sd_ && sd_->running()) sd_->Stop();
  }
  std::string KeyFile(const std::string& name) const {
    return dir_.File("state/keys/") +
           sd::RecordFileName("uid:" + std::to_string(::geteuid()), name);
  }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
  std::unique_ptr<Client> client_;
};

TEST_F(SdPersistenceTest, KeysSurviveRestart) {
  Start();
  ASSERT_TRUE(client_->CreateKey("id", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("box", KeyType::kAes256).ok());
  auto pem = client_->PublicKeyPem("id");
  auto sig = client_->Sign("id", AsBytes("before restart"));
  auto ct = client_->Encrypt("box", AsBytes("sealed before restart"));
  ASSERT_TRUE(pem.ok() && sig.ok() && ct.ok());
  Stop();
  // Stored objects are 0600 files that do not contain the plaintext key name's material.
  struct stat st {};
  ASSERT_EQ(::stat(KeyFile("id").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir_.File("state/root.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Start();
  EXPECT_EQ(*client_->PublicKeyPem("id"), *pem);
  EXPECT_TRUE(*client_->Verify("id", AsBytes("before restart"), *sig));
  auto pt = client_->Decrypt("box", *ct);
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_EQ(std::string(pt->data(), pt->data() + pt->size()), "sealed before restart");
  EXPECT_NE(sd_->log().find("root_key=loaded"), std::string::npos);
}

TEST_F(SdPersistenceTest, FlippedByteIsReportedAsTampering) {
  Start();
  ASSERT_TRUE(client_->CreateKey("victim", KeyType::kEd25519).ok());
  ASSERT_TRUE(client_->CreateKey("bystander", KeyType::kEd25519).ok());
  Stop();
  std::string data = ReadText(KeyFile("victim"));
  ASSERT_GT(data.size(), 60u);
  data[data.size() - 20] ^= 0x01;
  WriteText(KeyFile("victim"), data);
  Start();
  EXPECT_EQ(client_->Sign("victim", AsBytes("x")).status().code(), ErrorCode::kTampered);
  EXPECT_TRUE(client_->Sign("bystander", AsBytes("x")).ok());
  auto keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].name, "bystander");
  EXPECT_EQ((*keys)[0].state, "ok");
  EXPECT_EQ((*keys)[1].name, "victim");
  EXPECT_EQ((*keys)[1].state.rfind("tampered", 0), 0u) << (*keys)[1].state;
  EXPECT_NE(sd_->log().find("event=tampered-object"), std::string::npos);
}

TEST_F(SdPersistenceTest, HeaderEditIsReportedAsTampering) {
  Start();
  ASSERT_TRUE(client_->CreateKey("aaaa", KeyType::kHmacSha256).ok());
  Stop();
  // Change the recorded key type byte (hmac-sha256 -> aes-256): associated data no longer matches.
  std::string data = ReadText(KeyFile("aaaa"));
  data[5] = 5;
  WriteText(KeyFile("aaaa"), data);
  Start();
  EXPECT_EQ(client_->Mac("aaaa", AsBytes("x")).status().code(), ErrorCode::kTampered);
  EXPECT_EQ(client_->Encrypt("aaaa", AsBytes("x")).status().code(), ErrorCode::kTampered);
}

TEST_F(SdPersistenceTest, SwappedFilesAreReportedAsTampering) {
  Start();
  ASSERT_TRUE(client_->CreateKey("alpha", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("beta", KeyType::kEcdsaP256).ok());
  Stop();
  std::string a = ReadText(KeyFile("alpha"));
  std::string b = ReadText(KeyFile("beta"));
  WriteText(KeyFile("alpha"), b);
  WriteText(KeyFile("beta"), a);
  Start();
  auto sa = client_->Sign("alpha", AsBytes("x"));
  EXPECT_EQ(sa.status().code(), ErrorCode::kTampered);
  EXPECT_NE(sa.status().message().find("swapped"), std::string::npos) << sa.status().message();
  EXPECT_EQ(client_->Sign("beta", AsBytes("x")).status().code(), ErrorCode::kTampered);
  auto keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok());
  for (const auto& k : *keys)
    EXPECT_EQ(k.state.rfind("tampered", 0), 0u) << k.name << ": " << k.state;
}

TEST_F(SdPersistenceTest, RenamedFileIsReportedAsTampering) {
  Start();
  ASSERT_TRUE(client_->CreateKey("original", KeyType::kEcdsaP256).ok());
  Stop();
  fs::rename(KeyFile("original"), KeyFile("impostor"));
  Start();
  EXPECT_EQ(client_->Sign("original", AsBytes("x")).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(client_->Sign("impostor", AsBytes("x")).status().code(), ErrorCode::kTampered);
  auto keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_NE((*keys)[0].state.find("renamed"), std::string::npos) << (*keys)[0].state;
}

TEST_F(SdPersistenceTest, CraftedRecordCannotBreakListing) {
  Start();
  ASSERT_TRUE(client_->CreateKey("good", KeyType::kEd25519).ok());
  Stop();
  // A forged record (not sealed by this secure domain) that claims a 100-byte name for our uid,
  // stored under the file name that name would have.
  const std::string owner = "uid:" + std::to_string(::geteuid());
  const std::string long_name(100, 'n');
  WriteText(KeyFile(long_name), ForgedRecord(owner, long_name));
  Start();
  auto keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 1u);  // the forgery's claims are not shown to the uid it names
  EXPECT_EQ((*keys)[0].name, "good");
  EXPECT_EQ((*keys)[0].state, "ok");
  EXPECT_NE(sd_->log().find("event=tampered-object"), std::string::npos);
}

TEST_F(SdPersistenceTest, FifoAndOddFileNamesInTheStoreNeitherHangNorBreakListings) {
  Start();
  ASSERT_TRUE(client_->CreateKey("good", KeyType::kEd25519).ok());
  Stop();
  // A FIFO would block a plain open() for ever; odd names must not break the answer's schema.
  ASSERT_EQ(::mkfifo(dir_.File("state/keys/pipe.key").c_str(), 0600), 0);
  if (IsRoot()) {  // owned by the daemon's user (`daemon`, uid 1), so opening it would block
    ASSERT_EQ(::chown(dir_.File("state/keys/pipe.key").c_str(), 1, 1), 0);
  }
  WriteText(dir_.File("state/keys/") + std::string(70, 'L') + ".key", "junk");
  WriteText(dir_.File("state/keys/bad\xff\x01name.key"), "junk");
  const std::string admin = "[policy]\nadmins = [\"uid:" + std::to_string(::geteuid()) + "\"]\n";
  Start(admin);
  auto mine = client_->ListKeys();
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  ASSERT_EQ(mine->size(), 1u);
  auto all = client_->ListKeys("*");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 4u);
  int tampered = 0;
  for (const auto& k : *all) {
    if (k.owner == "?") {
      ++tampered;
      EXPECT_EQ(k.state.rfind("tampered", 0), 0u) << k.state;
    }
  }
  EXPECT_EQ(tampered, 3);
  EXPECT_NE(sd_->log().find("not a regular file"), std::string::npos) << sd_->log();
  auto info = client_->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->key_count, 1u);
}

TEST_F(SdPersistenceTest, ListingOverTheFrameLimitIsAnErrorNotADeadConnection) {
  Start();
  Stop();
  // Thousands of forged (unauthenticated) records that name our uid: each is listed as
  // tampered, and together they exceed one answer.
  const std::string owner = "uid:" + std::to_string(::geteuid());
  for (int i = 0; i < 9000; ++i) {
    std::string name = "forged-" + std::to_string(i) + std::string(40, 'f');
    WriteText(KeyFile(name), ForgedRecord(owner, name));
  }
  Start();
  auto keys = client_->ListKeys();
  EXPECT_EQ(keys.status().code(), ErrorCode::kTooLarge) << keys.status().ToString();
  // The same connection still works.
  auto info = client_->Info();
  EXPECT_TRUE(info.ok()) << info.status().ToString();
}

TEST_F(SdPersistenceTest, MissingRootKeyWithStoredKeysIsRefused) {
  Start();
  ASSERT_TRUE(client_->CreateKey("k", KeyType::kEcdsaP256).ok());
  Stop();
  fs::remove(dir_.File("state/root.key"));
  SdProcess again(dir_);
  EXPECT_FALSE(again.Start());
  EXPECT_NE(again.log().find("refusing to create a new root key"), std::string::npos)
      << again.log();
}

TEST_F(SdPersistenceTest, RootKeyReadableByOthersIsRefused) {
  Start();
  Stop();
  ::chmod(dir_.File("state/root.key").c_str(), 0644);
  SdProcess again(dir_);
  EXPECT_FALSE(again.Start());
  EXPECT_NE(again.log().find("readable by others"), std::string::npos) << again.log();
}

TEST_F(SdPersistenceTest, KillDuringKeyCreationLosesNothingAcknowledged) {
  Start();
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::thread creator([&] {
    auto c = Client::Connect(sd_->socket());
    if (!c.ok()) return;
    for (int i = 0; !stop.load(); ++i) {
      // RSA keys take longest to write out, which widens the window the kill lands in.
      KeyType t = i % 3 == 0 ? KeyType::kRsa3072 : KeyType::kEcdsaP256;
      if (!(*c)->CreateKey("k" + std::to_string(i), t).ok()) return;
      ++acknowledged;
    }
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (acknowledged.load() < 15 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  sd_->Kill();
  stop = true;
  creator.join();
  client_.reset();
  const int acked = acknowledged.load();
  ASSERT_GE(acked, 15) << "key creation stalled or failed";

  Start();
  auto keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_GE(static_cast<int>(keys->size()), acked);
  EXPECT_LE(static_cast<int>(keys->size()), acked + 1);  // at most the one in flight
  for (const auto& k : *keys) {
    EXPECT_EQ(k.state, "ok") << k.name;
    EXPECT_TRUE(client_->Sign(k.name, AsBytes("still usable")).ok()) << k.name;
  }
  for (const auto& entry : fs::directory_iterator(dir_.File("state/keys"))) {
    EXPECT_EQ(entry.path().filename().string().rfind(".tmp.", 0), std::string::npos)
        << "partial write left behind: " << entry.path();
  }
}

}  // namespace
}  // namespace edgetrust::test
