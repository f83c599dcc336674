// The daemon against hostile and unusual clients on the raw socket: random bytes, truncated and
// oversized frames, unknown opcodes, bad versions, malformed bodies, stalled frames, pipelining,
// connection limits. It must answer or close, and keep serving everyone else.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <thread>

#include "edgetrust/client.h"
#include "harness.h"
#include "protocol/message.h"
#include "protocol/wire.h"

namespace edgetrust::test {
namespace {

using protocol::Field;
using protocol::FrameHeader;
using protocol::Message;
using protocol::Opcode;

class RawConn {
 public:
  explicit RawConn(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConn() { ::close(fd_); }
  bool connected() const { return connected_; }
  // Sends everything, or returns false. Not fatal: a refused connection may be closed by the
  // daemon before our request goes out, while its refusal is still there to be read.
  bool Send(const Bytes& b) {
    size_t off = 0;
    while (off < b.size()) {
      ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  void SendFrame(uint16_t opcode, uint64_t id, const Bytes& body,
                 uint16_t version = protocol::kProtocolVersion) {
    FrameHeader h;
    h.version = version;
    h.opcode = opcode;
    h.request_id = id;
    h.body_length = static_cast<uint32_t>(body.size());
    auto header = protocol::EncodeHeader(h);
    Bytes all(header.begin(), header.end());
    all.insert(all.end(), body.begin(), body.end());
    Send(all);
  }
  // Reads one answer frame; false if the daemon closed the connection (or nothing came in 10 s).
  bool ReadFrame(FrameHeader& h, Bytes& body) {
    uint8_t header[protocol::kHeaderSize];
    if (!ReadExact(header, sizeof header)) return false;
    auto decoded = protocol::DecodeHeader(header);
    if (!decoded.ok()) return false;
    h = *decoded;
    body.resize(h.body_length);
    return ReadExact(body.data(), body.size());
  }
  // True if the daemon closed the connection (EOF) within the timeout.
  bool ClosedByPeer(int timeout_ms = 10000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  bool ReadExact(uint8_t* out, size_t n) {
    size_t off = 0;
    while (off < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) return false;
      ssize_t r = ::recv(fd_, out + off, n - off, 0);
      if (r <= 0) return false;
      off += static_cast<size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
};

std::string ErrorText(const Bytes& body) {
  auto m = Message::Decode(body, Opcode::kInfo, protocol::BodyKind::kError);
  if (!m.ok()) return "<undecodable error body>";
  return std::string(m->GetString(Field::kMessage).value_or(""));
}

class SdProtocolTest : public ::testing::Test {
 protected:
  void StartDaemon(const std::string& config = "") {
    SdProcess::Options o;
    o.config_text = config;
    sd_ = std::make_unique<SdProcess>(dir_, o);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
  }
  void TearDown() override {
    if (sd_) {
      EXPECT_EQ(sd_->Stop(), 0) << "daemon did not shut down cleanly\n" << sd_->log();
    }
  }
  // A well-behaved client still gets served.
  void ExpectServesOthers() {
    auto c = Client::Connect(sd_->socket());
    ASSERT_TRUE(c.ok());
    auto r = (*c)->Random(16);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
  // A valid Info request on `conn` is answered (the connection is still in sync).
  void ExpectConnectionUsable(RawConn& conn, uint64_t id) {
    conn.SendFrame(static_cast<uint16_t>(Opcode::kInfo), id, {});
    FrameHeader h;
    Bytes body;
    ASSERT_TRUE(conn.ReadFrame(h, body));
    EXPECT_EQ(h.request_id, id);
    EXPECT_EQ(h.status, 0u) << ErrorText(body);
  }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
};

TEST_F(SdProtocolTest, RandomBytesCloseTheConnectionOnly) {
  StartDaemon();
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    RawConn conn(sd_->socket());
    ASSERT_TRUE(conn.connected());
    Bytes junk(static_cast<size_t>(1 + rng() % 4096));
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    conn.Send(junk);
    EXPECT_TRUE(conn.ClosedByPeer()) << "round " << round;
  }
  ExpectServesOthers();
}

TEST_F(SdProtocolTest, TruncatedFrameThenCloseIsHarmless) {
  StartDaemon();
  {
    RawConn conn(sd_->socket());
    Bytes partial = {0x45, 0x54, 0x53, 0x44, 0x00, 0x01};
    conn.Send(partial);
  }
  {
    RawConn conn(sd_->socket());
    FrameHeader h;
    h.opcode = static_cast<uint16_t>(Opcode::kSign);
    h.body_length = 100;
    auto header = protocol::EncodeHeader(h);
    conn.Send(Bytes(header.begin(), header.end()));
    conn.Send(Bytes(10, 0));  // body cut short, then the client goes away
  }
  ExpectServesOthers();
}

TEST_F(SdProtocolTest, OversizedLengthIsAnsweredAndClosedWithoutReadingIt) {
  StartDaemon();
  RawConn conn(sd_->socket());
  FrameHeader h;
  h.opcode = static_cast<uint16_t>(Opcode::kSign);
  h.request_id = 7;
  h.body_length = 0xFFFFFFF0u;
  auto header = protocol::EncodeHeader(h);
  conn.Send(Bytes(header.begin(), header.end()));
  FrameHeader answer;
  Bytes body;
  ASSERT_TRUE(conn.ReadFrame(answer, body));
  EXPECT_EQ(answer.request_id, 7u);
  EXPECT_EQ(answer.status, static_cast<uint32_t>(ErrorCode::kTooLarge));
  EXPECT_NE(ErrorText(body).find("exceeds the limit"), std::string::npos);
  EXPECT_TRUE(conn.ClosedByPeer());
  ExpectServesOthers();
}

TEST_F(SdProtocolTest, UnknownOpcodeAndBadVersionAreAnsweredAndConnectionStaysUsable) {
  StartDaemon();
  RawConn conn(sd_->socket());
  conn.SendFrame(999, 1, Bytes(37, 0xAB));
  FrameHeader h;
  Bytes body;
  ASSERT_TRUE(conn.ReadFrame(h, body));
  EXPECT_EQ(h.request_id, 1u);
  EXPECT_EQ(h.status, static_cast<uint32_t>(ErrorCode::kUnsupported));
  EXPECT_NE(ErrorText(body).find("unknown opcode 999"), std::string::npos);

  conn.SendFrame(static_cast<uint16_t>(Opcode::kInfo), 2, Bytes(5, 1), /*version=*/9);
  ASSERT_TRUE(conn.ReadFrame(h, body));
  EXPECT_EQ(h.request_id, 2u);
  EXPECT_EQ(h.status, static_cast<uint32_t>(ErrorCode::kUnsupported));
  EXPECT_NE(ErrorText(body).find("protocol version 9"), std::string::npos);

  ExpectConnectionUsable(conn, 3);
}

TEST_F(SdProtocolTest, MalformedBodiesGetMalformedAnswers) {
  StartDaemon();
  RawConn conn(sd_->socket());
  uint64_t id = 10;
  std::vector<Bytes> bodies = {
      {0x00, 0x01, 0x00, 0x00},                   // truncated field header
      {0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 'a'},  // field runs past the body
      {0x7F, 0x7F, 0x00, 0x00, 0x00, 0x00},       // unknown tag
  };
  // Name with invalid UTF-8, and Create without its required type.
  Message bad_utf8;
  bad_utf8.PutBytes(Field::kName, Bytes{0xC0, 0x80}).PutString(Field::kKeyType, "ed25519");
  bodies.push_back(bad_utf8.Encode());
  Message missing;
  missing.PutString(Field::kName, "k");
  bodies.push_back(missing.Encode());
  Message repeated;
  repeated.PutString(Field::kName, "k")
      .PutString(Field::kName, "k")
      .PutString(Field::kKeyType, "ed25519");
  bodies.push_back(repeated.Encode());
  for (const auto& b : bodies) {
    conn.SendFrame(static_cast<uint16_t>(Opcode::kKeyCreate), id, b);
    FrameHeader h;
    Bytes body;
    ASSERT_TRUE(conn.ReadFrame(h, body)) << "no answer to body #" << id;
    EXPECT_EQ(h.request_id, id);
    EXPECT_EQ(h.status, static_cast<uint32_t>(ErrorCode::kMalformed)) << ErrorText(body);
    ++id;
  }
  ExpectConnectionUsable(conn, id);
}

TEST_F(SdProtocolTest, StalledFrameTimesOutWithoutStallingOthers) {
  StartDaemon("[daemon]\nframe_timeout_ms = 300\n");
  RawConn stalled(sd_->socket());
  FrameHeader h;
  h.opcode = static_cast<uint16_t>(Opcode::kRandom);
  h.body_length = 50;
  auto header = protocol::EncodeHeader(h);
  stalled.Send(Bytes(header.begin(), header.begin() + 10));  // half a header, then nothing
  ExpectServesOthers();                                      // while the stalled frame is pending
  EXPECT_TRUE(stalled.ClosedByPeer(5000));
  EXPECT_NE(sd_->log().find("event=frame-timeout"), std::string::npos);
  // An idle connection between frames, by contrast, is kept open.
  RawConn idle(sd_->socket());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  ExpectConnectionUsable(idle, 1);
}

TEST_F(SdProtocolTest, PipelinedRequestsAreAllAnsweredById) {
  StartDaemon();
  RawConn conn(sd_->socket());
  constexpr int kCount = 200;
  Bytes burst;
  for (int i = 0; i < kCount; ++i) {
    Message m;
    m.PutU32(Field::kLength, static_cast<uint32_t>(1 + i % 64));
    Bytes body = m.Encode();
    FrameHeader h;
    h.opcode = static_cast<uint16_t>(Opcode::kRandom);
    h.request_id = 1000 + static_cast<uint64_t>(i);
    h.body_length = static_cast<uint32_t>(body.size());
    auto header = protocol::EncodeHeader(h);
    burst.insert(burst.end(), header.begin(), header.end());
    burst.insert(burst.end(), body.begin(), body.end());
  }
  conn.Send(burst);  // every request before reading any answer
  std::vector<bool> seen(kCount, false);
  for (int i = 0; i < kCount; ++i) {
    FrameHeader h;
    Bytes body;
    ASSERT_TRUE(conn.ReadFrame(h, body)) << "answer " << i;
    ASSERT_EQ(h.status, 0u);
    int idx = static_cast<int>(h.request_id - 1000);
    ASSERT_TRUE(idx >= 0 && idx < kCount);
    EXPECT_FALSE(seen[static_cast<size_t>(idx)]);
    seen[static_cast<size_t>(idx)] = true;
    auto m = Message::Decode(body, Opcode::kRandom, protocol::BodyKind::kResponse);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->GetBytes(Field::kData)->size(), static_cast<size_t>(1 + idx % 64));
  }
}

TEST_F(SdProtocolTest, ConnectionLimitRefusesExtraCallersClearly) {
  StartDaemon("[daemon]\nmax_connections = 2\n");
  // Slots free asynchronously when a connection closes (the start-up probe's, here), so a refused
  // connection is retried a few times before it counts as a failure.
  auto connect_usable = [&]() -> std::unique_ptr<RawConn> {
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto conn = std::make_unique<RawConn>(sd_->socket());
      conn->SendFrame(static_cast<uint16_t>(Opcode::kInfo), 1, {});
      FrameHeader h;
      Bytes body;
      if (conn->ReadFrame(h, body) && h.status == 0) return conn;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return nullptr;
  };
  auto a = connect_usable();
  auto b = connect_usable();
  ASSERT_TRUE(a && b);
  RawConn c(sd_->socket());
  FrameHeader h;
  Bytes body;
  ASSERT_TRUE(c.ReadFrame(h, body));
  EXPECT_EQ(h.status, static_cast<uint32_t>(ErrorCode::kResourceExhausted));
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(SdProtocolTest, PerPrincipalConnectionLimit) {
  StartDaemon("[daemon]\nmax_connections_per_principal = 3\n");
  // The start-up probe's connection frees its slot asynchronously: wait until it has.
  ASSERT_TRUE(sd_->WaitForLog("event=disconnect")) << sd_->log();
  std::vector<std::unique_ptr<RawConn>> held;
  int refused = 0;
  for (int i = 0; i < 20 && refused == 0; ++i) {
    auto conn = std::make_unique<RawConn>(sd_->socket());
    conn->SendFrame(static_cast<uint16_t>(Opcode::kInfo), 1, {});
    FrameHeader h;
    Bytes body;
    ASSERT_TRUE(conn->ReadFrame(h, body));
    if (h.status == static_cast<uint32_t>(ErrorCode::kResourceExhausted)) {
      EXPECT_NE(ErrorText(body).find("too many connections from uid:"), std::string::npos)
          << ErrorText(body);
      ++refused;
    } else {
      ASSERT_EQ(h.status, 0u);
      held.push_back(std::move(conn));
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(held.size(), 3u);
  held.pop_back();  // closing one frees a slot for the same principal
  auto again = [&] {
    for (int attempt = 0; attempt < 100; ++attempt) {
      RawConn conn(sd_->socket());
      conn.SendFrame(static_cast<uint16_t>(Opcode::kInfo), 1, {});
      FrameHeader h;
      Bytes body;
      if (conn.ReadFrame(h, body) && h.status == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  EXPECT_TRUE(again());
}

TEST_F(SdProtocolTest, ManyConcurrentClients) {
  StartDaemon();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 32; ++t) {
    threads.emplace_back([&, t] {
      auto c = Client::Connect(sd_->socket());
      if (!c.ok()) return;
      std::string name = "key" + std::to_string(t);
      if (!(*c)->CreateKey(name, KeyType::kHmacSha256).ok()) return;
      for (int i = 0; i < 20; ++i) {
        if (!(*c)->Mac(name, AsBytes("m")).ok()) return;
      }
      ++ok;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 32);
}

TEST_F(SdProtocolTest, HardenedProcessAndCleanShutdown) {
  StartDaemon();
  std::string status = ReadText("/proc/" + std::to_string(sd_->pid()) + "/status");
  if (IsRoot()) {
    // Dropped to the `daemon` user (uid 1) and not dumpable: /proc/<pid> then belongs to root.
    EXPECT_NE(status.find("Uid:\t1\t1\t1\t1"), std::string::npos) << status;
    struct stat st {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(sd_->pid()) + "/environ").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
  }
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos) << status;
#ifdef EDGETRUST_HAVE_SECCOMP
  EXPECT_NE(status.find("Seccomp:\t2"), std::string::npos) << status;
#endif
  EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
  EXPECT_NE(sd_->log().find("event=ready"), std::string::npos);
  EXPECT_NE(::access(sd_->socket().c_str(), F_OK), 0) << "socket left behind";
  EXPECT_NE(sd_->log().find("event=stopped"), std::string::npos);
  sd_.reset();
}

}  // namespace
}  // namespace edgetrust::test
