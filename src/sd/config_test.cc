// Unit tests of the daemon configuration parser.
#include "sd/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace edgetrust::sd {
namespace {

// Parses `text`, expecting kInvalidArgument whose message contains each of `needles`.
::testing::AssertionResult Rejects(const std::string& text,
                                   std::initializer_list<std::string> needles = {}) {
  auto c = ParseConfig(text);
  if (c.ok()) return ::testing::AssertionFailure() << "accepted:\n" << text;
  if (c.status().code() != ErrorCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong code: " << c.status().ToString();
  }
  for (const auto& n : needles) {
    if (c.status().message().find(n) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message \"" << c.status().message() << "\" lacks \"" << n << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

DaemonConfig MustParse(const std::string& text) {
  auto c = ParseConfig(text);
  EXPECT_TRUE(c.ok()) << c.status().ToString() << "\n" << text;
  return c.ok() ? std::move(c).value() : DaemonConfig{};
}

TEST(ConfigTest, Defaults) {
  for (const char* text : {"", "# nothing\n", "[daemon]\n", "[daemon]\n[policy]\n"}) {
    auto c = ParseConfig(text);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->user, "edgetrust");
    EXPECT_EQ(c->socket_mode, 0666u);
    EXPECT_EQ(c->max_connections, 256u);
    EXPECT_EQ(c->frame_timeout_ms, 10000u);
    EXPECT_TRUE(c->seccomp);
    EXPECT_EQ(c->log_level, "info");
    EXPECT_TRUE(c->policy.admins().empty());
    EXPECT_EQ(c->policy.grant_count(), 0u);
  }
}

TEST(ConfigTest, EveryDaemonKey) {
  auto c = MustParse(R"(
[daemon]
user = "et-daemon"
socket_mode = "0660"
max_connections = 32
max_connections_per_principal = 4
frame_timeout_ms = 2500
seccomp = false
log_level = "debug"
)");
  EXPECT_EQ(c.user, "et-daemon");
  EXPECT_EQ(c.socket_mode, 0660u);
  EXPECT_EQ(c.max_connections, 32u);
  EXPECT_EQ(c.max_connections_per_principal, 4u);
  EXPECT_EQ(c.frame_timeout_ms, 2500u);
  EXPECT_FALSE(c.seccomp);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(ConfigTest, SocketModeOctal) {
  EXPECT_EQ(MustParse("[daemon]\nsocket_mode = \"0660\"\n").socket_mode, 0660u);
  EXPECT_EQ(MustParse("[daemon]\nsocket_mode = \"660\"\n").socket_mode, 0660u);
  EXPECT_EQ(MustParse("[daemon]\nsocket_mode = \"0600\"\n").socket_mode, 0600u);
  EXPECT_EQ(MustParse("[daemon]\nsocket_mode = \"777\"\n").socket_mode, 0777u);
  EXPECT_EQ(MustParse("[daemon]\nsocket_mode = \"0\"\n").socket_mode, 0u);
}

TEST(ConfigTest, SocketModeRejected) {
  for (const char* v :
       {"999", "abc", "0o1777", "01777", "1000", "0x1ff", "", "0660 ", "066a", "8"}) {
    EXPECT_TRUE(
        Rejects(std::string("[daemon]\nsocket_mode = \"") + v + "\"\n", {"socket_mode", "line 2"}))
        << '"' << v << '"';
  }
  // Only strings: TOML integers are refused, even TOML's own octal form (0o660 == 432).
  EXPECT_TRUE(Rejects("[daemon]\nsocket_mode = 0o660\n", {"socket_mode", "octal string"}));
  EXPECT_TRUE(Rejects("[daemon]\nsocket_mode = 432\n", {"socket_mode", "octal string"}));
  EXPECT_TRUE(Rejects("[daemon]\nsocket_mode = 0660\n", {"line 2"}));  // TOML: no leading zeros
}

TEST(ConfigTest, IntegerRanges) {
  EXPECT_EQ(MustParse("[daemon]\nmax_connections = 1\n").max_connections, 1u);
  EXPECT_EQ(MustParse("[daemon]\nmax_connections = 65536\n").max_connections, 65536u);
  EXPECT_EQ(MustParse("[daemon]\nframe_timeout_ms = 10\n").frame_timeout_ms, 10u);
  EXPECT_EQ(MustParse("[daemon]\nframe_timeout_ms = 600000\n").frame_timeout_ms, 600000u);
  for (const char* v : {"0", "-1", "65537", "4294967297", "\"10\"", "1.5", "true"}) {
    EXPECT_TRUE(Rejects(std::string("[daemon]\nmax_connections = ") + v + "\n",
                        {"daemon.max_connections", "1..65536", "line 2"}))
        << v;
  }
  for (const char* v : {"9", "0", "-10", "600001", "\"100\""}) {
    EXPECT_TRUE(Rejects(std::string("[daemon]\nframe_timeout_ms = ") + v + "\n",
                        {"daemon.frame_timeout_ms", "10..600000"}))
        << v;
  }
}

TEST(ConfigTest, OtherValuesChecked) {
  EXPECT_TRUE(Rejects("[daemon]\nuser = \"\"\n", {"daemon.user"}));
  EXPECT_TRUE(Rejects("[daemon]\nuser = 0\n", {"daemon.user"}));
  EXPECT_TRUE(Rejects("[daemon]\nseccomp = \"yes\"\n", {"daemon.seccomp"}));
  EXPECT_TRUE(Rejects("[daemon]\nseccomp = 1\n", {"daemon.seccomp"}));
  EXPECT_TRUE(Rejects("[daemon]\nlog_level = \"verbose\"\n", {"daemon.log_level"}));
  EXPECT_TRUE(Rejects("[daemon]\nlog_level = \"INFO\"\n", {"daemon.log_level"}));
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    EXPECT_EQ(MustParse(std::string("[daemon]\nlog_level = \"") + level + "\"\n").log_level, level);
  }
  EXPECT_TRUE(MustParse("[daemon]\nseccomp = true\n").seccomp);
}

TEST(ConfigTest, UnknownKeyOrSectionRefused) {
  EXPECT_TRUE(Rejects("[daemon]\nuser = \"x\"\nsocket_path = \"/run/x\"\n",
                      {"daemon.socket_path", "line 3"}));
  EXPECT_TRUE(Rejects("[daemon]\nseccom = false\n", {"daemon.seccom"}));
  EXPECT_TRUE(Rejects("[server]\nport = 1\n", {"\"server\"", "line 1"}));
  EXPECT_TRUE(Rejects("user = \"edgetrust\"\n", {"\"user\""}));  // outside [daemon]
  EXPECT_TRUE(Rejects("daemon = 1\n", {"\"daemon\""}));          // not a table
  EXPECT_TRUE(Rejects("[[daemon]]\n", {"\"daemon\""}));          // array of tables
  EXPECT_TRUE(Rejects("[daemon.extra]\n", {"daemon.extra"}));
}

TEST(ConfigTest, SyntaxError) {
  EXPECT_TRUE(Rejects("[daemon]\nuser = \"x\n", {"config:", "line 2"}));
  EXPECT_TRUE(Rejects("[daemon\n", {"config:", "line 1"}));
}

TEST(ConfigTest, PolicyParsedThrough) {
  auto c = MustParse(R"(
[daemon]
log_level = "warn"

[policy]
admins = ["uid:0"]

[[policy.grant]]
owner = "uid:0"
key = "device-identity"
to = ["uid:1000"]
operations = ["sign", "public"]
)");
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_TRUE(c.policy.IsAdmin("uid:0"));
  EXPECT_EQ(c.policy.grant_count(), 1u);
  EXPECT_TRUE(c.policy.Allows("uid:1000", "uid:0", "device-identity", "sign"));
  EXPECT_FALSE(c.policy.Allows("uid:1000", "uid:0", "device-identity", "decrypt"));
}

TEST(ConfigTest, PolicyErrorsPropagate) {
  EXPECT_TRUE(Rejects("[policy]\nadmins = [\"root\"]\n", {"policy", "\"root\"", "line 2"}));
  EXPECT_TRUE(Rejects("[policy]\nadmin = []\n", {"\"admin\""}));
  EXPECT_TRUE(Rejects(R"([policy]
[[policy.grant]]
owner = "uid:0"
key = "k"
to = ["uid:1"]
operations = ["launch"]
)",
                      {"\"launch\"", "line 6"}));
}

TEST(ConfigTest, LoadConfigFile) {
  std::string dir = (std::filesystem::temp_directory_path() / "et-config-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string good = dir + "/good.toml";
  const std::string bad = dir + "/bad.toml";
  std::ofstream(good) << "[daemon]\nmax_connections = 7\n";
  std::ofstream(bad) << "[daemon]\nmax_connections = 0\n";
  auto c = LoadConfigFile(good);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_connections, 7u);
  auto b = LoadConfigFile(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find(bad), std::string::npos) << b.status().message();
  auto missing = LoadConfigFile(dir + "/missing.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgetrust::sd
