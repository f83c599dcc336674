// The control socket end to end: the real server on a real Unix socket, our client, raw sockets
// for what a well-behaved client never sends, python3 as an independent client running as
// another user, and the edgetrust CLI against a server answering from a real leaf registry (and
// the real secure domain for PSKs).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/control_client.h"
#include "agent/control_protocol.h"
#include "agent/control_server.h"
#include "agent/leaf_registry.h"
#include "common/hex.h"
#include "harness.h"

namespace edgetrust::agent {
namespace {

using nlohmann::json;
using test::CommandResult;
using test::RunCommand;
using test::TempDir;

constexpr uid_t kNobody = 65534;

// Answers every request with what it was asked and who asked; or with `reply` when set.
class EchoHandler : public ControlHandler {
 public:
  json Handle(const json& request, const PeerCred& peer) override {
    calls++;
    std::lock_guard<std::mutex> lock(mu);
    last_peer = peer;
    if (throw_next) throw std::runtime_error("boom");
    if (!reply.is_null()) return reply;
    return OkResponse({{"request", request}, {"uid", peer.uid}, {"pid", peer.pid}});
  }

  std::atomic<int> calls{0};
  std::mutex mu;
  PeerCred last_peer;
  json reply;
  bool throw_next = false;
};

// A connected raw client: sends whatever it is given.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  void HalfClose() { ::shutdown(fd_, SHUT_WR); }
  // Everything until the server closes (generous limit: a broken server fails the test, it does
  // not hang it).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 60'000) <= 0) return out + "<no end>";
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class ControlTest : public ::testing::Test {
 protected:
  std::unique_ptr<ControlServer> StartServer(ControlServerOptions options = {},
                                             uid_t agent_uid = ::getuid()) {
    auto s = ControlServer::Start(socket_, handler_, agent_uid, options);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  TempDir dir_;
  std::string socket_ = dir_.File("run/agent.sock");
  EchoHandler handler_;
};

TEST_F(ControlTest, RequestRoundTripIdentifiesTheCaller) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat(dir_.File("run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);

  auto answer = CallAgent(socket_, {{"op", "leaf-revoke"}, {"name", "s1"}});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ((*answer)["ok"], true);
  EXPECT_EQ((*answer)["request"], json({{"op", "leaf-revoke"}, {"name", "s1"}}));
  EXPECT_EQ((*answer)["uid"], ::getuid());
  EXPECT_EQ((*answer)["pid"], ::getpid());
  EXPECT_EQ(handler_.calls.load(), 1);

  // Many callers at once are all answered.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, other{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 10; ++j) {
        auto r = CallAgent(socket_, {{"op", "status"}});
        if (r.ok()) {
          ++ok;
        } else if (r.status().code() != ErrorCode::kResourceExhausted) {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  // Over the connection cap a caller may be told to try again; none may get anything else.
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(handler_.calls.load(), 1 + ok.load());
}

TEST_F(ControlTest, AgentErrorsBecomeTheirStatus) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  handler_.reply = ErrorResponse(Status(ErrorCode::kNotFound, "unknown leaf 'x'"));
  auto answer = CallAgent(socket_, {{"op", "leaf-revoke"}, {"name", "x"}});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(answer.status().message(), "unknown leaf 'x'");

  handler_.reply = {{"ok", false}, {"error", "something odd"}};
  answer = CallAgent(socket_, {{"op", "status"}});
  EXPECT_EQ(answer.status().code(), ErrorCode::kInternal);
  EXPECT_EQ(answer.status().message(), "something odd");

  // An answer that is not a protocol answer is the handler's bug, reported as internal.
  handler_.reply = json::array({1, 2});
  answer = CallAgent(socket_, {{"op", "status"}});
  EXPECT_EQ(answer.status().code(), ErrorCode::kInternal);
  handler_.reply = json();
  handler_.throw_next = true;
  answer = CallAgent(socket_, {{"op", "status"}});
  EXPECT_EQ(answer.status().code(), ErrorCode::kInternal);
  EXPECT_EQ(answer.status().message(), "internal error");
  // And the server goes on serving.
  handler_.throw_next = false;
  EXPECT_TRUE(CallAgent(socket_, {{"op", "status"}}).ok());
}

TEST_F(ControlTest, AgentNotRunningIsAClearError) {
  auto answer = CallAgent(dir_.File("nothing.sock"), {{"op", "status"}});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(answer.status().message(),
            "edgetrust-agent is not running (socket " + dir_.File("nothing.sock") + ")");

  // A socket file left by an agent that died: the same, and a new server replaces it.
  {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    // Simulate the crash: the listening socket goes away but the file stays.
    const std::string kept = dir_.File("kept.sock");
    ASSERT_EQ(::link(socket_.c_str(), kept.c_str()), 0);
    server->Stop();
    ASSERT_EQ(::rename(kept.c_str(), socket_.c_str()), 0);
  }
  answer = CallAgent(socket_, {{"op", "status"}});
  EXPECT_EQ(answer.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(answer.status().message().find("is not running"), std::string::npos);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(CallAgent(socket_, {{"op", "status"}}).ok());

  // A live socket is never taken over, nor is a file that is not a socket.
  auto second = ControlServer::Start(socket_, handler_, ::getuid());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(CallAgent(socket_, {{"op", "status"}}).ok());
  test::WriteText(dir_.File("file"), "x");
  auto on_file = ControlServer::Start(dir_.File("file"), handler_, ::getuid());
  EXPECT_EQ(on_file.status().code(), ErrorCode::kAlreadyExists);
  auto too_long = ControlServer::Start("/tmp/" + std::string(200, 'x'), handler_, ::getuid());
  EXPECT_EQ(too_long.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ControlTest, StopIsIdempotentAndRemovesOnlyItsOwnSocket) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  server->Stop();
  server->Stop();
  struct stat st {};
  EXPECT_NE(::lstat(socket_.c_str(), &st), 0);
  EXPECT_EQ(CallAgent(socket_, {{"op", "status"}}).status().code(), ErrorCode::kUnavailable);

  // A successor's socket at the same path survives the old server's Stop.
  auto old_server = StartServer();
  ASSERT_NE(old_server, nullptr);
  ASSERT_EQ(::unlink(socket_.c_str()), 0);
  auto successor = StartServer();
  ASSERT_NE(successor, nullptr);
  old_server->Stop();
  EXPECT_EQ(::lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(CallAgent(socket_, {{"op", "status"}}).ok());
}

TEST_F(ControlTest, BadLinesGetAnErrorAndTheConnectionIsClosed) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  struct Case {
    std::string send;
    bool half_close;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {std::string(kMaxRequestLineSize + 10, ' '), false, "too-large: request line longer than"},
      {std::string(kMaxRequestLineSize + 100, 'x') + "\n", false, "too-large"},
      {"{\"op\":\"status\"", true, "malformed: the request line must end with a newline"},
      {"not json\n", false, "malformed:"},
      {"{\"op\":\"status\",\"op\":\"leaf-list\"}\n", false, "duplicate key"},
      {std::string("{\"op\":\"st\xff\"}\n"), false, "malformed:"},
      {"[1,2]\n", false, "invalid-argument: bad request: a request is a JSON object"},
      {"{\"op\":\"reboot\"}\n", false, "unknown op \\\"reboot\\\""},
      {"{\"op\":\"status\",\"x\":1}\n", false, "unknown field \\\"x\\\""},
      {"{\"op\":\"leaf-add\",\"name\":\"a/b\",\"auth\":\"psk\"}\n", false, "invalid leaf name"},
      {std::string(100, '[') + "\n", false, "malformed: control message: nested deeper"},
  };
  for (const auto& c : cases) {
    RawClient client(socket_);
    ASSERT_TRUE(client.connected());
    client.Send(c.send);
    if (c.half_close) client.HalfClose();
    const std::string got = client.ReadAll();
    EXPECT_NE(got.find(c.expect), std::string::npos) << c.send.substr(0, 60) << " -> " << got;
    EXPECT_EQ(got.find("{\"error\":"), 0u) << got;
    EXPECT_NE(got.find("\"ok\":false}"), std::string::npos) << got;
    EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 1) << got;  // one line, then closed
  }
  EXPECT_EQ(handler_.calls.load(), 0);

  // Only the first line is a request; what follows is ignored.
  RawClient client(socket_);
  ASSERT_TRUE(client.connected());
  client.Send("{\"op\":\"leaf-list\"}\n{\"op\":\"status\"}\n");
  const std::string got = client.ReadAll();
  EXPECT_NE(got.find("\"op\":\"leaf-list\""), std::string::npos) << got;
  EXPECT_EQ(handler_.calls.load(), 1);
  EXPECT_EQ(CallAgent(socket_, json::object({{"op", std::string(kMaxRequestLineSize, 'x')}}))
                .status()
                .code(),
            ErrorCode::kTooLarge);
}

TEST_F(ControlTest, ASilentCallerIsCutOffAndHoldsUpNobody) {
  EXPECT_EQ(ControlServerOptions{}.read_timeout, std::chrono::seconds(5));
  ControlServerOptions options;
  options.read_timeout = std::chrono::seconds(1);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawClient silent(socket_);
  ASSERT_TRUE(silent.connected());
  RawClient partial(socket_);
  ASSERT_TRUE(partial.connected());
  partial.Send("{\"op\":");
  // Served while the others wait.
  EXPECT_TRUE(CallAgent(socket_, {{"op", "status"}}).ok());
  for (RawClient* c : {&silent, &partial}) {
    const std::string got = c->ReadAll();
    EXPECT_NE(got.find("malformed: no complete request line within 1 s"), std::string::npos) << got;
  }
  EXPECT_EQ(handler_.calls.load(), 1);
}

TEST_F(ControlTest, ConnectionsOverTheCapAreToldToRetry) {
  ControlServerOptions options;
  options.read_timeout = std::chrono::seconds(120);  // the held connections stay until we close
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(options.max_connections, 8u);
  std::vector<std::unique_ptr<RawClient>> held;
  for (size_t i = 0; i < options.max_connections; ++i) {
    held.push_back(std::make_unique<RawClient>(socket_));
    ASSERT_TRUE(held.back()->connected());
  }
  // Connections are accepted in order, so the one after the eight held ones is over the cap.
  auto refused = CallAgent(socket_, {{"op", "status"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("too many control connections"), std::string::npos);

  // The held connections end (the callers go away): the slots come back.
  held.clear();
  bool served = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!served && std::chrono::steady_clock::now() < deadline) {
    auto answer = CallAgent(socket_, {{"op", "status"}});
    served = answer.ok();
    if (!served) {
      ASSERT_EQ(answer.status().code(), ErrorCode::kResourceExhausted);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(served);
  // Stop() ends connections that are still being read.
  RawClient lingering(socket_);
  ASSERT_TRUE(lingering.connected());
  server->Stop();
  EXPECT_EQ(lingering.ReadAll().find("<no end>"), std::string::npos);
}

// python3, run as another user, as an independent client.
const char kPythonClient[] = R"(
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print('connect-error', e.errno)
    sys.exit(0)
data = b''
try:
    # A refused caller may find the socket closed under it: what it was told is still there.
    s.sendall(b'{"op":"status"}\n')
except OSError:
    pass
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError:
    pass
print(data.decode())
)";

CommandResult PythonClientAs(uid_t uid, const std::string& socket) {
  return test::RunCommandAs(uid, uid, {"/usr/bin/python3", "-c", kPythonClient, socket});
}

TEST_F(ControlTest, OnlyRootAndTheAgentsUserAreServed) {
  if (!test::IsRoot()) GTEST_SKIP() << "needs root to run a client as another user";
  // A folder everyone may traverse, so the socket's mode and then SO_PEERCRED decide.
  ASSERT_EQ(::mkdir(dir_.File("run").c_str(), 0755), 0);
  {
    // The socket's own mode keeps other users out first...
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    CommandResult r = PythonClientAs(kNobody, socket_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("connect-error 13"), std::string::npos) << r.out << r.err;  // EACCES
    r = test::RunCommandAs(kNobody, kNobody,
                           {test::CliBinary(), "status", "--agent-socket", socket_});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("edgetrust: permission-denied: cannot connect to the agent's socket"),
              std::string::npos)
        << r.err;
  }
  {
    // ...and with a socket anyone may open, the kernel's word on the caller still does.
    ControlServerOptions options;
    options.socket_mode = 0666;
    auto server = StartServer(options, /*agent_uid=*/0);
    ASSERT_NE(server, nullptr);
    CommandResult r = PythonClientAs(kNobody, socket_);
    EXPECT_NE(r.out.find("{\"error\":\"permission-denied: uid 65534 may not use the agent's "
                         "control socket"),
              std::string::npos)
        << r.out << r.err;
    EXPECT_EQ(handler_.calls.load(), 0);
    r = test::RunCommandAs(kNobody, kNobody,
                           {test::CliBinary(), "status", "--agent-socket", socket_});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("edgetrust: permission-denied: uid 65534 may not use"), std::string::npos)
        << r.err;
    // Root is.
    EXPECT_TRUE(CallAgent(socket_, {{"op", "status"}}).ok());
    EXPECT_EQ(handler_.calls.load(), 1);
  }
  {
    // The agent's own user is.
    ControlServerOptions options;
    options.socket_mode = 0666;
    auto server = StartServer(options, /*agent_uid=*/kNobody);
    ASSERT_NE(server, nullptr);
    CommandResult r = PythonClientAs(kNobody, socket_);
    EXPECT_NE(r.out.find("\"ok\":true"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("\"uid\":65534"), std::string::npos) << r.out;
  }
}

// --- The protocol's validation ------------------------------------------------------------------

TEST(ControlProtocolTest, RequestsAreValidated) {
  auto parse = [](const std::string& text) -> Result<ControlRequest> {
    auto j = ParseControlLine(text, kMaxRequestLineSize);
    if (!j.ok()) return j.status();
    return ParseControlRequest(*j);
  };
  auto r = parse(R"({"op":"leaf-add","name":"s-1","auth":"enrollment","ttl_s":3600})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->op, ControlOp::kLeafAdd);
  EXPECT_EQ(r->name, "s-1");
  EXPECT_EQ(r->auth, LeafAuth::kEnrollment);
  EXPECT_EQ(r->ttl_s, 3600);
  r = parse(R"({"auth":"psk","name":"p","op":"leaf-add"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->auth, LeafAuth::kPsk);
  r = parse(R"({"op":"leaf-add","name":"e","auth":"enrollment"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ttl_s, kDefaultTokenTtlSeconds);
  EXPECT_TRUE(parse(R"({"op":"status"})").ok());
  EXPECT_TRUE(parse(R"({"op":"leaf-list"})").ok());
  EXPECT_TRUE(parse(R"({"op":"leaf-revoke","name":"x"})").ok());

  for (const char* bad : {
           R"({"op":"leaf-add","name":"s","auth":"enrollment","ttl_s":59})",
           R"({"op":"leaf-add","name":"s","auth":"enrollment","ttl_s":2592001})",
           R"({"op":"leaf-add","name":"s","auth":"enrollment","ttl_s":-5})",
           R"({"op":"leaf-add","name":"s","auth":"enrollment","ttl_s":3600.5})",
           R"({"op":"leaf-add","name":"s","auth":"enrollment","ttl_s":"3600"})",
           R"({"op":"leaf-add","name":"s","auth":"psk","ttl_s":3600})",
           R"({"op":"leaf-add","name":"s","auth":"password"})",
           R"({"op":"leaf-add","name":"s","auth":1})",
           R"({"op":"leaf-add","name":"s"})",
           R"({"op":"leaf-add","auth":"psk"})",
           R"({"op":"leaf-add","name":"","auth":"psk"})",
           R"({"op":"leaf-add","name":"a#","auth":"psk"})",
           R"({"op":"leaf-add","name":["a"],"auth":"psk"})",
           R"({"op":"leaf-revoke"})",
           R"({"op":"leaf-list","name":"x"})",
           R"({"op":"status","verbose":true})",
           R"({"op":5})",
           R"({"name":"x"})",
           R"("status")",
           R"(null)",
       }) {
    r = parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad << r.status().ToString();
    EXPECT_FALSE(r.status().message().empty());
  }
  EXPECT_EQ(parse("").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(parse("{} {}").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(ParseControlLine(std::string(11, ' '), 10).status().code(), ErrorCode::kTooLarge);

  auto req = [](ControlOp op, std::string name = "", LeafAuth auth = LeafAuth::kEnrollment,
                int64_t ttl = kDefaultTokenTtlSeconds) {
    ControlRequest out;
    out.op = op;
    out.name = std::move(name);
    out.auth = auth;
    out.ttl_s = ttl;
    return out;
  };
  ControlRequest deploy = req(ControlOp::kDeploy);
  deploy.manifest = {'{', '}', 0x00, 0xff};
  deploy.signature = {0x30, 0x82, 0x01};
  deploy.archive_dir = "/srv/images";
  ControlRequest events = req(ControlOp::kEvents);
  events.limit = 7;
  events.module = "web";
  for (const ControlRequest& one :
       {req(ControlOp::kStatus), req(ControlOp::kLeafAdd, "a", LeafAuth::kEnrollment, 60),
        req(ControlOp::kLeafAdd, "b", LeafAuth::kPsk),
        req(ControlOp::kLeafAdd, "c", LeafAuth::kCertificate), req(ControlOp::kLeafRevoke, "d"),
        deploy, req(ControlOp::kModules), events}) {
    auto back = ParseControlRequest(ControlRequestJson(one));
    ASSERT_TRUE(back.ok()) << ControlRequestJson(one).dump();
    EXPECT_EQ(*back, one);
  }
}

TEST(ControlProtocolTest, DeployAndEventsRequestsAreValidated) {
  auto bad = [](const json& j) {
    auto r = ParseControlRequest(j);
    EXPECT_FALSE(r.ok()) << j.dump();
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_NE(bad({{"op", "deploy"}, {"manifest", "e30="}}).find("signature"), std::string::npos);
  EXPECT_NE(
      bad({{"op", "deploy"}, {"manifest", "not base64!"}, {"signature", "AAAA"}}).find("base64"),
      std::string::npos);
  EXPECT_NE(bad({{"op", "deploy"}, {"manifest", 5}, {"signature", "AAAA"}}).find("manifest"),
            std::string::npos);
  bad({{"op", "deploy"}, {"manifest", ""}, {"signature", "AAAA"}});
  bad({{"op", "deploy"}, {"manifest", "e30="}, {"signature", "AAAA"}, {"archive_dir", "rel"}});
  bad({{"op", "deploy"},
       {"manifest", std::string(4 * ((kMaxDeployManifestBytes + 10) / 3), 'A')},
       {"signature", "AAAA"}});
  bad({{"op", "events"}, {"limit", 0}});
  bad({{"op", "events"}, {"limit", kMaxEventsLimit + 1}});
  bad({{"op", "events"}, {"limit", -3}});
  bad({{"op", "modules"}, {"name", "x"}});
  // Padding is not counted as data.
  auto one = ParseControlRequest({{"op", "deploy"}, {"manifest", "eA=="}, {"signature", "eHk="}});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->manifest, Bytes({'x'}));
  EXPECT_EQ(one->signature, Bytes({'x', 'y'}));
}

TEST(ControlProtocolTest, ResponsesMapToStatuses) {
  EXPECT_TRUE(ResponseStatus(OkResponse({{"x", 1}})).ok());
  EXPECT_EQ(OkResponse({{"x", 1}}), json({{"ok", true}, {"x", 1}}));
  for (uint32_t c = 1; c <= 14; ++c) {
    const Status st(static_cast<ErrorCode>(c), "why: it is so");
    Status back = ResponseStatus(ErrorResponse(st));
    EXPECT_EQ(back.code(), st.code());
    EXPECT_EQ(back.message(), "why: it is so");
  }
  EXPECT_EQ(ResponseStatus(json::array()).code(), ErrorCode::kMalformed);
  EXPECT_EQ(ResponseStatus({{"ok", "yes"}}).code(), ErrorCode::kMalformed);
  EXPECT_EQ(ResponseStatus({{"ok", false}}).code(), ErrorCode::kInternal);
  EXPECT_EQ(ResponseStatus({{"ok", false}, {"error", 5}}).code(), ErrorCode::kInternal);
  EXPECT_EQ(ResponseStatus({{"ok", false}, {"error", "not-found"}}).code(), ErrorCode::kNotFound);
  EXPECT_EQ(EncodeControlLine({{"a", "\xff"}}), "{\"a\":\"\xef\xbf\xbd\"}\n");
}

TEST(ControlProtocolTest, SocketPathComesFromFlagThenEnvironment) {
  ::unsetenv("EDGETRUST_AGENT_SOCKET");
  EXPECT_EQ(ResolveAgentSocketPath(""), "/run/edgetrust/agent.sock");
  EXPECT_EQ(ResolveAgentSocketPath("/x.sock"), "/x.sock");
  ::setenv("EDGETRUST_AGENT_SOCKET", "/env.sock", 1);
  EXPECT_EQ(ResolveAgentSocketPath(""), "/env.sock");
  EXPECT_EQ(ResolveAgentSocketPath("/x.sock"), "/x.sock");
  ::setenv("EDGETRUST_AGENT_SOCKET", "", 1);
  EXPECT_EQ(ResolveAgentSocketPath(""), "/run/edgetrust/agent.sock");
  ::unsetenv("EDGETRUST_AGENT_SOCKET");
}

// --- The CLI against a server with a real registry ------------------------------------------

// The leaf ops from a real LeafRegistry (PSKs from a real edgetrust-sd), and a fixed status.
// The test changes what it answers between CLI runs while the server's threads read it, so every
// field is behind the mutex (a finished but unjoined serving thread is not ordered before us).
class RegistryHandler : public ControlHandler {
 public:
  RegistryHandler(LeafRegistry& registry, Client* sd) : registry_(registry), sd_(sd) {}
  json Handle(const json& request, const PeerCred&) override {
    auto parsed = ParseControlRequest(request);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    std::lock_guard<std::mutex> lock(mu_);
    if (!reply_.is_null()) return reply_;
    if (parsed->op == ControlOp::kStatus) return status_;
    return HandleLeafRequest(registry_, *parsed, now_ms_,
                             [this](std::string_view name, int64_t created_ms) {
                               return DeriveLeafPsk(*sd_, name, created_ms);
                             });
  }

  void SetStatus(json status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
  }
  json CurrentStatus() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  // When set, the answer to everything.
  void SetReply(json reply) {
    std::lock_guard<std::mutex> lock(mu_);
    reply_ = std::move(reply);
  }
  int64_t NowMs() {
    std::lock_guard<std::mutex> lock(mu_);
    return now_ms_;
  }
  void AdvanceMs(int64_t ms) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ms_ += ms;
  }

 private:
  LeafRegistry& registry_;
  Client* sd_;
  std::mutex mu_;
  json status_;
  json reply_;
  int64_t now_ms_ = 1'577'836'800'000;  // 2020-01-01T00:00:00Z, long before the tests run
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sd_.Start()) << sd_.log();
    auto client = Client::Connect(sd_.socket());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    auto reg = LeafRegistry::Open(dir_.File("leaves.json"));
    ASSERT_TRUE(reg.ok());
    registry_ = std::move(reg).value();
    handler_ = std::make_unique<RegistryHandler>(*registry_, client_.get());
    auto server = ControlServer::Start(socket_, *handler_, ::getuid());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {test::CliBinary()});
    args.insert(args.end(), {"--agent-socket", socket_});
    return RunCommand(args);
  }

  TempDir dir_;
  test::SdProcess sd_{dir_};
  std::string socket_ = dir_.File("agent.sock");
  std::unique_ptr<Client> client_;
  std::unique_ptr<LeafRegistry> registry_;
  std::unique_ptr<RegistryHandler> handler_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(CliTest, LeafAddListRevoke) {
  CommandResult r = Cli({"leaf", "add", "sensor-1", "--ttl", "30m"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("one-time enrollment token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("valid until 2020-01-01T00:30:00Z"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("edgetrust-sensor --gateway HOST:PORT --ca GATEWAY-CA.pem --name sensor-1 "
                       "--enroll "),
            std::string::npos)
      << r.out;
  // The token printed is the one that enrolls.
  const size_t at = r.out.find("--enroll ") + 9;
  const std::string token = r.out.substr(at, r.out.find(' ', at) - at);
  EXPECT_EQ(token.size(), 43u) << r.out;
  EXPECT_TRUE(registry_->CheckToken("sensor-1", token, handler_->NowMs()).ok());
  EXPECT_EQ(registry_->Get("sensor-1")->token_expires_ms, handler_->NowMs() + 30 * 60 * 1000);

  r = Cli({"leaf", "add", "p1", "--psk", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json added = json::parse(r.out);
  ASSERT_TRUE(added["psk"].is_string()) << r.out;
  EXPECT_EQ(added["psk"].get<std::string>().size(), 64u);
  EXPECT_EQ(added["leaf"]["auth"], "psk");
  EXPECT_FALSE(added.contains("ok"));
  auto psk = DeriveLeafPsk(*client_, "p1", handler_->NowMs());
  ASSERT_TRUE(psk.ok());
  EXPECT_EQ(added["psk"], HexEncode(psk->view()));

  r = Cli({"leaf", "add", "p2", "--psk"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Its PSK (shown only now"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--name p2 --psk "), std::string::npos) << r.out;

  r = Cli({"leaf", "add", "c1", "--certificate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("edgetrust cert issue --ca device-ca"), std::string::npos) << r.out;

  r = Cli({"leaf", "add", "c1", "--certificate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("edgetrust: already-exists: leaf 'c1' already exists"), std::string::npos)
      << r.err;
  r = Cli({"leaf", "add", "x", "--ttl", "31d"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--ttl must be between 1m and 30d"), std::string::npos) << r.err;

  r = Cli({"leaf", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAME", 0), 0u) << r.out;
  for (const char* text : {"c1", "certificate", "p1", "psk", "sensor-1", "enrollment",
                           "pending (token expired)", "2020-01-01T00:00:00Z", "active"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
  r = Cli({"leaf", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  json list = json::parse(r.out);
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0]["name"], "c1");
  EXPECT_FALSE(list[0].contains("token_sha256_hex"));

  r = Cli({"leaf", "revoke", "p1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Revoked leaf p1"), std::string::npos);
  EXPECT_EQ(registry_->Admit("p1", LeafAuth::kPsk).code(), ErrorCode::kPermissionDenied);
  r = Cli({"leaf", "revoke", "nobody"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("edgetrust: not-found: unknown leaf 'nobody'"), std::string::npos) << r.err;
  // Re-adding the revoked PSK leaf gives a new PSK.
  handler_->AdvanceMs(1000);
  r = Cli({"leaf", "add", "p1", "--psk", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(json::parse(r.out)["psk"], added["psk"]);
}

TEST_F(CliTest, StatusIsShownInSectionsOrAsIs) {
  handler_->SetStatus(json::parse(R"({"ok":true,"device":"gw-1","version":"0.1.0","uptime_s":3725,
    "cloud":{"state":"connected","broker":"cloud.example:8883","since_ms":1767225600000,
             "last_error":"","forwarded_total":1234,"inflight":7},
    "queue":{"depth":12,"bytes":40960,"oldest_age_ms":2500,"dropped_total":0,"rejected_total":3},
    "leaves":{"connected":[{"name":"sensor-1","auth":"certificate","since_ms":1767225600000,
                            "address":"127.0.0.1:40000"}],"known":4,"pending":1,"revoked":1},
    "certificates":[{"name":"device-id","not_after":"2027-01-01T00:00:00Z","days_left":364,
                     "renewal_due":false}]})"));
  CommandResult r = Cli({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* text :
       {"device:        gw-1", "version:       0.1.0", "uptime:        1h 2m",
        "cloud:         connected (cloud.example:8883) since 2026-01-01T00:00:00Z",
        "  forwarded:   1234", "  in flight:   7", "queue:         12 messages, 40.0 KiB",
        "  oldest:      2s", "  rejected:    3",
        "leaves:        1 connected, 4 known, 1 pending, 1 revoked", "sensor-1", "127.0.0.1:40000",
        "device-id", "2027-01-01T00:00:00Z", "364", "not due"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
  r = Cli({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(json::parse(r.out), handler_->CurrentStatus());

  // Whatever shape the answer has, the CLI prints what it can and never fails on it.
  for (const char* odd : {
           R"({"ok":true})",
           R"({"ok":true,"device":5,"uptime_s":"long","cloud":[],"queue":"full",)"
           R"("leaves":{"connected":5,"known":{}},"certificates":{"a":1}})",
           R"({"ok":true,"cloud":{"state":null,"since_ms":-5,"last_error":"bad\nline\u001b[31m"},)"
           R"("leaves":{"connected":[1,"x",{"name":[]}]},"certificates":[1,{"renewal_due":"x"}],)"
           R"("queue":{"depth":1e300,"bytes":-1,"oldest_age_ms":18446744073709551615}})",
       }) {
    handler_->SetStatus(json::parse(odd));
    r = Cli({"status"});
    EXPECT_EQ(r.exit_code, 0) << odd << "\n" << r.err;
    EXPECT_NE(r.out.find("device:"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  }
}

TEST_F(CliTest, AnswersOfAnotherShapeArePrintedToo) {
  // Field names an agent may use besides the ones HandleLeafRequest writes.
  handler_->SetReply({{"ok", true},
                      {"name", "x"},
                      {"auth", "enrollment"},
                      {"token", "TOKEN-TEXT"},
                      {"expires_ms", 1577838600000}});
  CommandResult r = Cli({"leaf", "add", "x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("valid until 2020-01-01T00:30:00Z"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--enroll TOKEN-TEXT --state DIR"), std::string::npos) << r.out;
  handler_->SetReply(json::parse(R"({"ok":true,"leaves":[
      {"name":"a","auth":"psk","state":"active","created_ms":1577836800000,"connected":true},
      {"name":"b","auth":"enrollment","state":"pending","expires_ms":4102444800000},
      {"name":"c","auth":"certificate","state":"revoked","last_seen_ms":1577836800000}]})"));
  r = Cli({"leaf", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("now"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pending (token until 2100-01-01T00:00:00Z)"), std::string::npos) << r.out;
  // An answer without what the command needs is an error, not a crash.
  handler_->SetReply({{"ok", true}});
  r = Cli({"leaf", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("edgetrust: malformed:"), std::string::npos) << r.err;
  r = Cli({"leaf", "add", "y", "--psk"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no PSK"), std::string::npos) << r.err;
}

TEST(CliWithoutAgentTest, HelpAndAClearMessage) {
  CommandResult r = RunCommand({test::CliBinary(), "leaf", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"add", "list", "revoke", "--agent-socket"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
  r = RunCommand({test::CliBinary(), "leaf", "add", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"--psk", "--certificate", "--ttl", "24h"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
  r = RunCommand({test::CliBinary(), "status", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--agent-socket"), std::string::npos);

  TempDir dir;
  const std::string missing = dir.File("agent.sock");
  r = RunCommand({test::CliBinary(), "status", "--agent-socket", missing});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "edgetrust: unavailable: edgetrust-agent is not running (socket " + missing + ")\n");
  EXPECT_EQ(r.out, "");
  r = RunCommand(
      {"/usr/bin/env", "EDGETRUST_AGENT_SOCKET=" + missing, test::CliBinary(), "leaf", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not running (socket " + missing + ")"), std::string::npos) << r.err;
  r = RunCommand({test::CliBinary(), "leaf", "add", "x", "--psk", "--certificate"});
  EXPECT_EQ(r.exit_code, 2);
  r = RunCommand({test::CliBinary(), "leaf", "add", "x", "--ttl", "1w", "--agent-socket", missing});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid duration \"1w\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgetrust::agent
