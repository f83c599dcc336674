// Unit tests of ParseManifest: a full manifest parses into every field, defaults apply, and each
// rule refuses its violation with a message naming the JSON path.
#include "deploy/manifest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "attest/sha256.h"
#include "common/hex.h"
#include "deploy/manifest_rules.h"

namespace edgetrust::deploy {
namespace {

using nlohmann::json;

const std::string kImage = "sha256:" + std::string(64, 'a');

json MinimalModule(const std::string& name = "sensor") {
  return {{"name", name}, {"image", kImage}, {"command", {"/bin/sensor", "--port", "1"}}};
}

json Minimal() {
  return {{"format", "edgetrust-deployment/1"},
          {"deployment", "plant-a"},
          {"sequence", 7},
          {"created", "2026-05-01T12:00:00Z"},
          {"modules", json::array({MinimalModule()})}};
}

Result<Manifest> Parse(const json& doc) { return ParseManifest(AsBytes(doc.dump())); }

// The parse fails and the message contains `text`.
void ExpectRefused(const json& doc, const std::string& text) {
  auto m = Parse(doc);
  ASSERT_FALSE(m.ok()) << doc.dump();
  EXPECT_NE(m.status().message().find(text), std::string::npos)
      << "message: " << m.status().message() << "\nwanted: " << text;
}

TEST(ManifestTest, MinimalGetsDefaults) {
  const std::string text = Minimal().dump();
  auto m = ParseManifest(AsBytes(text));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->deployment, "plant-a");
  EXPECT_EQ(m->sequence, 7u);
  EXPECT_EQ(m->created, "2026-05-01T12:00:00Z");
  EXPECT_EQ(m->digest, HexEncode(attest::Sha256({AsBytes(text)})));
  ASSERT_EQ(m->modules.size(), 1u);
  const Module& mod = m->modules[0];
  EXPECT_EQ(mod.name, "sensor");
  EXPECT_EQ(mod.image, kImage);
  EXPECT_EQ(mod.command, (std::vector<std::string>{"/bin/sensor", "--port", "1"}));
  EXPECT_TRUE(mod.read_only_rootfs);
  EXPECT_TRUE(mod.writable.empty());
  EXPECT_TRUE(mod.cap_add.empty());
  EXPECT_EQ(mod.cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(mod.network, "none");
  EXPECT_FALSE(mod.secure_domain);
  EXPECT_EQ(mod.restart, "on-failure");
  EXPECT_EQ(mod.integrity.mode, "detect");
  EXPECT_EQ(mod.integrity.fail, "closed");
  EXPECT_EQ(mod.integrity.answer_timeout_ms, 200u);
  EXPECT_EQ(mod.integrity.layer_check_seconds, 300u);
  EXPECT_EQ(mod.remediation.action, "restart");
  EXPECT_EQ(mod.remediation.max_restarts, 5u);
  EXPECT_EQ(mod.remediation.window_seconds, 600u);
  EXPECT_EQ(mod.remediation.backoff_initial_ms, 500u);
  EXPECT_EQ(mod.remediation.backoff_max_ms, 60000u);
}

TEST(ManifestTest, EveryFieldParses) {
  json doc = Minimal();
  doc["modules"][0] = {
      {"name", "gw.app-1"},
      {"image", kImage},
      {"archive", "images/app.tar"},
      {"registry", "registry.example:5000/edge/app@sha256:" + std::string(64, 'b')},
      {"command", {"/app"}},
      {"env", {{"LOG_LEVEL", "info"}, {"_X1", ""}}},
      {"user", "1000:1000"},
      {"working_dir", "/srv"},
      {"read_only_rootfs", false},
      {"writable",
       {{{"path", "/tmp"}, {"type", "tmpfs"}, {"size_mb", 8}, {"exec", true}},
        {{"path", "/var/lib/app"}, {"type", "volume"}, {"volume", "app-data"}}}},
      {"mounts", {{{"source", "/etc/app"}, {"target", "/etc/app"}, {"read_only", false}}}},
      {"capabilities", {{"add", {"net_bind_service", "CAP_CHOWN"}}, {"drop", {"all"}}}},
      {"network", "host"},
      {"secure_domain", true},
      {"restart", "always"},
      {"integrity",
       {{"mode", "enforce"},
        {"fail", "open"},
        {"answer_timeout_ms", 50},
        {"layer_check_seconds", 0}}},
      {"remediation",
       {{"action", "quarantine"},
        {"max_restarts", 2},
        {"window_seconds", 60},
        {"backoff_initial_ms", 100},
        {"backoff_max_ms", 1000}}}};
  auto m = Parse(doc);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Module& mod = m->modules[0];
  EXPECT_EQ(mod.archive, "images/app.tar");
  EXPECT_EQ(mod.env.at("LOG_LEVEL"), "info");
  EXPECT_EQ(mod.user, "1000:1000");
  EXPECT_EQ(mod.working_dir, "/srv");
  EXPECT_FALSE(mod.read_only_rootfs);
  ASSERT_EQ(mod.writable.size(), 2u);
  EXPECT_EQ(mod.writable[0].size_mb, 8u);
  EXPECT_TRUE(mod.writable[0].exec);
  EXPECT_EQ(mod.writable[1].type, "volume");
  EXPECT_EQ(mod.writable[1].volume, "app-data");
  ASSERT_EQ(mod.mounts.size(), 1u);
  EXPECT_FALSE(mod.mounts[0].read_only);
  EXPECT_EQ(mod.cap_add, (std::vector<std::string>{"CHOWN", "NET_BIND_SERVICE"}));
  EXPECT_EQ(mod.cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(mod.network, "host");
  EXPECT_TRUE(mod.secure_domain);
  EXPECT_EQ(mod.restart, "always");
  EXPECT_EQ(mod.integrity.mode, "enforce");
  EXPECT_EQ(mod.integrity.answer_timeout_ms, 50u);
  EXPECT_EQ(mod.remediation.action, "quarantine");
  EXPECT_EQ(mod.remediation.backoff_max_ms, 1000u);
}

TEST(ManifestTest, SyntaxAndTopLevel) {
  EXPECT_EQ(ParseManifest(AsBytes("{")).status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(ParseManifest(AsBytes("[]")).status().code(), ErrorCode::kMalformed);
  // A duplicate key could be read differently by another parser: refused.
  EXPECT_FALSE(ParseManifest(AsBytes(R"({"format":"edgetrust-deployment/1","format":"x"})")).ok());
  std::string big(kMaxManifestBytes + 1, ' ');
  EXPECT_EQ(ParseManifest(AsBytes(big)).status().code(), ErrorCode::kTooLarge);

  json doc = Minimal();
  doc["format"] = "edgetrust-deployment/2";
  ExpectRefused(doc, "format: is \"edgetrust-deployment/2\"");
  doc = Minimal();
  doc["extra"] = 1;
  ExpectRefused(doc,
                "extra: unknown key (known keys: format, deployment, sequence, created, modules)");
  doc = Minimal();
  doc["sequence"] = 0;
  ExpectRefused(doc, "sequence: is 0");
  doc["sequence"] = -1;
  ExpectRefused(doc, "sequence: must be an unsigned integer, not a negative integer");
  doc["sequence"] = "5";
  ExpectRefused(doc, "sequence: must be an unsigned integer, not a string");
  doc = Minimal();
  doc.erase("modules");
  ExpectRefused(doc, "modules: is missing");
  doc = Minimal();
  doc["deployment"] = "Plant";
  ExpectRefused(doc, "deployment: \"Plant\" is not a name");
  doc = Minimal();
  doc["created"] = "yesterday";
  ExpectRefused(doc, "created: must be an RFC 3339 time");
  doc = Minimal();
  doc["modules"] = json::array();
  for (size_t i = 0; i <= kMaxModules; ++i)
    doc["modules"].push_back(MinimalModule("m" + std::to_string(i)));
  ExpectRefused(doc, "modules: has more than 64 modules");
}

TEST(ManifestTest, ModuleRules) {
  auto with = [](const std::string& key, const json& value) {
    json doc = Minimal();
    doc["modules"][0][key] = value;
    return doc;
  };
  ExpectRefused(with("bogus", 1), "modules[0].bogus: unknown key (known keys: name, image,");
  ExpectRefused(with("image", "sha256:" + std::string(64, 'A')),
                "modules[0].image: must be an image id");
  ExpectRefused(with("image", "busybox:latest"), "modules[0].image: must be an image id");
  ExpectRefused(with("registry", "busybox:latest"),
                "modules[0].registry: must be a pinned reference");
  ExpectRefused(with("archive", "../x.tar"), "modules[0].archive: must be a relative path");
  ExpectRefused(with("archive", "/abs.tar"), "modules[0].archive: must be a relative path");
  ExpectRefused(with("command", json::array()), "modules[0].command: must name a program");
  ExpectRefused(with("command", {"/a", 1}),
                "modules[0].command[1]: must be a string, not an unsigned integer");
  ExpectRefused(with("command", {std::string("/a\0b", 4)}),
                "modules[0].command[0]: must not contain a NUL");
  ExpectRefused(with("env", {{"1BAD", "x"}}), "modules[0].env.1BAD: is not a variable name");
  ExpectRefused(with("env", {{"A=B", "x"}}), "modules[0].env.A=B: is not a variable name");
  ExpectRefused(with("env", {{"A", 1}}), "modules[0].env.A: must be a string");
  ExpectRefused(with("user", "root;rm"), "modules[0].user:");
  ExpectRefused(with("working_dir", "srv"), "modules[0].working_dir: must be an absolute path");
  ExpectRefused(with("read_only_rootfs", "yes"),
                "modules[0].read_only_rootfs: must be true or false");
  ExpectRefused(with("network", "bridge"),
                "modules[0].network: is \"bridge\", must be one of \"none\", \"host\"");
  ExpectRefused(with("restart", "sometimes"), "modules[0].restart: is \"sometimes\"");
  ExpectRefused(with("capabilities", {{"add", {"NET ADMIN"}}}),
                "modules[0].capabilities.add[0]: is not a capability name");
  ExpectRefused(with("capabilities", {{"keep", {}}}), "modules[0].capabilities.keep: unknown key");
  ExpectRefused(with("integrity", {{"mode", "audit"}}), "modules[0].integrity.mode: is \"audit\"");
  ExpectRefused(with("integrity", {{"answer_timeout_ms", 0}}),
                "modules[0].integrity.answer_timeout_ms: is 0");
  ExpectRefused(with("remediation", {{"action", "reboot"}}), "modules[0].remediation.action:");
  ExpectRefused(with("remediation", {{"backoff_initial_ms", 5000}, {"backoff_max_ms", 100}}),
                "modules[0].remediation.backoff_max_ms: is less than backoff_initial_ms");

  json doc = Minimal();
  doc["modules"].push_back(MinimalModule("sensor"));
  ExpectRefused(doc, "modules[1].name: \"sensor\" is already the name of another module");
  doc["modules"][1]["name"] = std::string(64, 'a');
  ExpectRefused(doc, "modules[1].name: is longer than 63 bytes");
  doc["modules"][1].erase("name");
  ExpectRefused(doc, "modules[1].name: is missing");
}

TEST(ManifestTest, PathRules) {
  auto writable = [](const json& entries) {
    json doc = Minimal();
    doc["modules"][0]["writable"] = entries;
    return doc;
  };
  ExpectRefused(writable({{{"path", "tmp"}}}),
                "modules[0].writable[0].path: must be an absolute path");
  ExpectRefused(writable({{{"path", "/a/../b"}}}),
                "modules[0].writable[0].path: must be an absolute path");
  ExpectRefused(writable({{{"path", "/a//b"}}}),
                "modules[0].writable[0].path: must be an absolute path");
  ExpectRefused(writable({{{"path", "/a/"}}}),
                "modules[0].writable[0].path: must be an absolute path");
  ExpectRefused(writable({{{"path", "/"}}}),
                "modules[0].writable[0].path: must be an absolute path");
  ExpectRefused(writable({{{"path", "/a"}, {"type", "disk"}}}),
                "modules[0].writable[0].type: is \"disk\"");
  ExpectRefused(writable({{{"path", "/a"}, {"type", "volume"}}}),
                "modules[0].writable[0].volume: is required");
  ExpectRefused(writable({{{"path", "/a"}, {"type", "volume"}, {"volume", "-x"}}}),
                "modules[0].writable[0].volume: must be a volume name");
  ExpectRefused(writable({{{"path", "/a"}, {"type", "volume"}, {"volume", "v"}, {"size_mb", 4}}}),
                "modules[0].writable[0].size_mb: applies to type \"tmpfs\" only");
  ExpectRefused(writable({{{"path", "/a"}, {"volume", "v"}}}),
                "modules[0].writable[0].volume: applies to type \"volume\" only");
  ExpectRefused(writable({{{"path", "/a"}, {"size_mb", 0}}}),
                "modules[0].writable[0].size_mb: is 0");
  ExpectRefused(writable({{{"path", "/data"}}, {{"path", "/data/cache"}}}),
                "modules[0].writable[1].path: \"/data/cache\" overlaps \"/data\"");
  ExpectRefused(writable({{{"path", "/data"}}, {{"path", "/data"}}}),
                "modules[0].writable[1].path: \"/data\" overlaps");
  // "/data" and "/database" do not overlap.
  EXPECT_TRUE(Parse(writable({{{"path", "/data"}}, {{"path", "/database"}}})).ok());

  json doc = Minimal();
  doc["modules"][0]["writable"] = {{{"path", "/srv/data"}}};
  doc["modules"][0]["mounts"] = {{{"source", "/host"}, {"target", "/srv"}}};
  ExpectRefused(doc,
                "modules[0].mounts[0].target: \"/srv\" overlaps \"/srv/data\" of "
                "modules[0].writable[0].path");
  doc["modules"][0]["mounts"] = {{{"source", "host"}, {"target", "/etc/x"}}};
  ExpectRefused(doc, "modules[0].mounts[0].source: must be an absolute path");
  doc["modules"][0]["mounts"] = {{{"target", "/etc/x"}}};
  ExpectRefused(doc, "modules[0].mounts[0].source: is missing");
  doc["modules"][0]["mounts"] = {{{"source", "/h"}, {"target", "/run/edgetrust/x"}}};
  doc["modules"][0]["secure_domain"] = true;
  ExpectRefused(doc, "modules[0].secure_domain: \"/run/edgetrust\" overlaps \"/run/edgetrust/x\"");
}

// examples/manifest.json, which docs/deployment.md walks through, stays valid.
TEST(ManifestTest, ExampleParses) {
  std::ifstream in(std::string(EDGETRUST_SOURCE_DIR) + "/examples/manifest.json", std::ios::binary);
  ASSERT_TRUE(in) << "examples/manifest.json";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = ParseManifest(AsBytes(text));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->deployment, "plant-a-line-3");
  ASSERT_EQ(m->modules.size(), 2u);
  EXPECT_TRUE(m->modules[0].secure_domain);
  EXPECT_EQ(m->modules[1].remediation.action, "quarantine");
}

TEST(ManifestRulesTest, Predicates) {
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName("0a_b.c-d"));
  EXPECT_FALSE(IsValidName("_a"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName(std::string(64, 'a')));
  EXPECT_TRUE(IsPinnedReference("busybox@sha256:" + std::string(64, '0')));
  EXPECT_FALSE(IsPinnedReference("@sha256:" + std::string(64, '0')));
  EXPECT_FALSE(IsPinnedReference("busybox@sha256:" + std::string(63, '0')));
  EXPECT_TRUE(PathsOverlap("/a", "/a/b"));
  EXPECT_TRUE(PathsOverlap("/a/b", "/a"));
  EXPECT_FALSE(PathsOverlap("/a", "/ab"));
  EXPECT_TRUE(IsRfc3339("2026-05-01T12:00:00.25+02:00"));
  EXPECT_FALSE(IsRfc3339("2026-05-01 12:00:00Z"));
  EXPECT_TRUE(IsUserSpec("app"));
  EXPECT_FALSE(IsUserSpec("a:b:c"));
  EXPECT_FALSE(IsSafeRelativePath("a/./b"));
  EXPECT_TRUE(IsSafeRelativePath("a/b.tar"));
}

}  // namespace
}  // namespace edgetrust::deploy
