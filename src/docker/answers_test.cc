// Parsers of engine answers, on answers captured from dockerd 20.10 (fuzz/corpus/docker_answers,
// first byte = the fuzz target's selector) and on broken ones.
#include "docker/answers.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace edgetrust::docker {
namespace {

std::string Seed(const std::string& name) {
  std::ifstream in(std::string(ET_DOCKER_CORPUS) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  EXPECT_FALSE(text.empty()) << name;
  return text.empty() ? text : text.substr(1);  // the selector byte
}

void ExpectMalformed(const Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), ErrorCode::kMalformed) << s.ToString();
  EXPECT_NE(s.message().find(field), std::string::npos) << s.ToString();
}

TEST(Answers, Version) {
  auto v = ParseVersion(Seed("version"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->api_version, "1.41");
  EXPECT_EQ(v->min_api_version, "1.12");
  EXPECT_EQ(v->version, "20.10.24+dfsg1");
  EXPECT_EQ(v->os, "linux");
  ExpectMalformed(
      ParseVersion(R"({"Version":"1","ApiVersion":41,"MinAPIVersion":"1.12"})").status(),
      "ApiVersion");
  ExpectMalformed(ParseVersion(R"({"Version":"1","MinAPIVersion":"1.12"})").status(), "ApiVersion");
}

TEST(Answers, ImportedImage) {
  auto i = ParseImageInspect(Seed("image-imported"));
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->id, "sha256:fc3778495ddbcc47be01820b961e62e75b6696a8deb31a48f8d58ae780a926c5");
  EXPECT_TRUE(i->repo_tags.empty());  // captured after its tag was removed
  EXPECT_TRUE(i->repo_digests.empty());
  ASSERT_EQ(i->layers.size(), 1u);
  EXPECT_TRUE(i->env.empty());  // "Env": null
  EXPECT_TRUE(i->entrypoint.empty());
  EXPECT_EQ(i->cmd, (std::vector<std::string>{"/bin/sleep", "3600"}));
  EXPECT_EQ(i->graph_driver, "overlay2");
  EXPECT_NE(i->upper_dir.find("/diff"), std::string::npos);
  EXPECT_TRUE(i->lower_dirs.empty());
}

TEST(Answers, TwoLayerImage) {
  auto i = ParseImageInspect(Seed("image-two-layers"));
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->layers.size(), 2u);
  ASSERT_EQ(i->lower_dirs.size(), 1u);
  EXPECT_NE(i->lower_dirs[0], i->upper_dir);
}

TEST(Answers, RunningContainer) {
  auto c = ParseContainerInspect(Seed("container-running"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "cap1");
  EXPECT_TRUE(IsHex64(c->id));
  EXPECT_EQ(c->path, "/bin/sleep");
  EXPECT_EQ(c->args, std::vector<std::string>{"3600"});
  EXPECT_TRUE(c->state.running);
  EXPECT_EQ(c->state.status, "running");
  EXPECT_EQ(c->state.pid, 6855);
  EXPECT_TRUE(c->read_only_rootfs);
  EXPECT_EQ(c->cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_TRUE(c->cap_add.empty());  // null
  EXPECT_EQ(c->tmpfs.at("/run"), "rw,noexec,size=1m");
  EXPECT_EQ(c->labels.at("a"), "b");
  EXPECT_EQ(c->network_mode, "none");
  EXPECT_EQ(c->ipc_mode, "private");
  ASSERT_EQ(c->mounts.size(), 1u);
  EXPECT_EQ(c->mounts[0].type, "volume");
  EXPECT_EQ(c->mounts[0].name, "vol1");
  EXPECT_EQ(c->mounts[0].destination, "/data");
  EXPECT_TRUE(c->mounts[0].rw);
  ASSERT_EQ(c->lower_dirs.size(), 2u);
  EXPECT_NE(c->lower_dirs[0].find("-init/diff"), std::string::npos);
  EXPECT_FALSE(c->merged_dir.empty());
  EXPECT_FALSE(c->work_dir.empty());
}

TEST(Answers, CreatedAndExitedContainers) {
  auto created = ParseContainerInspect(Seed("container-created"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->state.status, "created");
  EXPECT_EQ(created->state.pid, 0);
  auto exited = ParseContainerInspect(Seed("container-exited"));
  ASSERT_TRUE(exited.ok()) << exited.status().ToString();
  EXPECT_FALSE(exited->state.running);
  EXPECT_EQ(exited->state.exit_code, 137);
}

TEST(Answers, ContainerTypeErrorsNameTheField) {
  const std::string good = Seed("container-running");
  auto swap = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    const size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  ExpectMalformed(ParseContainerInspect(swap(R"("Pid":6855)", R"("Pid":"6855")")).status(),
                  "State.Pid");
  ExpectMalformed(ParseContainerInspect(swap(R"("Pid":6855)", R"("Pid":6855.5)")).status(),
                  "State.Pid");
  ExpectMalformed(ParseContainerInspect(swap(R"("Pid":6855)", R"("Pid":-1)")).status(),
                  "State.Pid");
  ExpectMalformed(ParseContainerInspect(swap(R"("CapDrop":["ALL"])", R"("CapDrop":[1])")).status(),
                  "HostConfig.CapDrop[0]");
  ExpectMalformed(
      ParseContainerInspect(swap(R"("Labels":{"a":"b"})", R"("Labels":{"a":true})")).status(),
      "Config.Labels.a");
  ExpectMalformed(ParseContainerInspect(swap(R"("RW":true)", R"("RW":"yes")")).status(),
                  "Mounts[0].RW");
  ExpectMalformed(ParseContainerInspect(swap(R"("State":{)", R"("State":null,"X":{)")).status(),
                  "State");
  ExpectMalformed(ParseContainerInspect(swap(R"("Id":"c20f)", R"("Id":"C20f)")).status(), "Id");
  // null lists and maps are empty.
  auto nulls =
      ParseContainerInspect(swap(R"("Tmpfs":{"/run":"rw,noexec,size=1m"})", R"("Tmpfs":null)"));
  ASSERT_TRUE(nulls.ok()) << nulls.status().ToString();
  EXPECT_TRUE(nulls->tmpfs.empty());
}

TEST(Answers, TruncatedAndHugeAndNonObjects) {
  std::string good = Seed("container-running");
  while (!good.empty() && good.back() == '\n') good.pop_back();
  for (size_t cut : {size_t{0}, size_t{1}, good.size() / 2, good.size() - 1}) {
    EXPECT_EQ(ParseContainerInspect(good.substr(0, cut)).status().code(), ErrorCode::kMalformed);
  }
  EXPECT_EQ(ParseContainerInspect("[]").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(ParseContainerInspect("null").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(ParseImageInspect(std::string("{\"Id\":\0}", 8)).status().code(),
            ErrorCode::kMalformed);
  EXPECT_EQ(ParseChanges(std::string(kMaxAnswerText + 1, ' ')).status().code(),
            ErrorCode::kTooLarge);
  // Deep nesting is refused by the type checks, not the stack.
  EXPECT_EQ(ParseChanges(std::string(100000, '[') + std::string(100000, ']')).status().code(),
            ErrorCode::kMalformed);
}

TEST(Answers, ListAndChanges) {
  auto list = ParseContainerList(Seed("list"));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].names, std::vector<std::string>{"cap5"});
  EXPECT_EQ((*list)[0].state, "exited");
  EXPECT_TRUE(IsImageId((*list)[0].image_id));
  EXPECT_TRUE(ParseContainerList("[]")->empty());
  ExpectMalformed(ParseContainerList(R"([{"Id":"x"}])").status(), "[0].Id");

  auto changes = ParseChanges(Seed("changes"));
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].kind, Change::kModified);
  EXPECT_EQ((*changes)[1].kind, Change::kAdded);
  EXPECT_EQ((*changes)[1].path, "/tmp/a");
  EXPECT_TRUE(ParseChanges("null")->empty());
  ExpectMalformed(ParseChanges(R"([{"Path":"/a","Kind":3}])").status(), "[0].Kind");
  ExpectMalformed(ParseChanges(R"([{"Path":"a","Kind":1}])").status(), "[0].Path");
  ExpectMalformed(ParseChanges(R"({"Path":"/a"})").status(), "top level");
}

TEST(Answers, Events) {
  auto die = ParseEvent(Seed("event-die"));
  ASSERT_TRUE(die.ok()) << die.status().ToString();
  EXPECT_EQ(die->type, "container");
  EXPECT_EQ(die->action, "die");
  EXPECT_EQ(die->attributes.at("exitCode"), "3");
  EXPECT_EQ(die->attributes.at("name"), "cap3");
  EXPECT_TRUE(IsHex64(die->id));
  EXPECT_GT(die->time_nano, 0);
  ExpectMalformed(ParseEvent(R"({"Type":"container","Action":"x"})").status(), "timeNano");
  ExpectMalformed(ParseEvent(R"({"Type":"c","Action":"x","timeNano":1,"Actor":[]})").status(),
                  "Actor");
}

TEST(Answers, LoadAndProgressStreams) {
  EXPECT_EQ(*ParseLoadStream(Seed("load-ref")), std::vector<std::string>{"etcap:1"});
  EXPECT_EQ(*ParseLoadStream(Seed("load-id")),
            std::vector<std::string>{
                "sha256:fc3778495ddbcc47be01820b961e62e75b6696a8deb31a48f8d58ae780a926c5"});
  auto error = ParseLoadStream(Seed("load-error"));
  EXPECT_EQ(error.status().code(), ErrorCode::kInternal);
  EXPECT_NE(error.status().message().find("unexpected EOF"), std::string::npos);
  EXPECT_EQ(ParseLoadStream("").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(ParseLoadStream("{\"stream\":\"Loaded image ID: sha256:12\\n\"}").status().code(),
            ErrorCode::kMalformed);
  EXPECT_TRUE(ParseProgressStream(Seed("pull-ok")).ok());
  auto pull = ParseProgressStream(Seed("pull-error"));
  EXPECT_EQ(pull.code(), ErrorCode::kInternal);
  EXPECT_NE(pull.message().find("manifest unknown"), std::string::npos);
  EXPECT_EQ(ParseProgressStream("{}\nnot json\n").code(), ErrorCode::kMalformed);
}

TEST(Answers, CreateAnswerAndEngineMessage) {
  EXPECT_EQ(*ParseCreateAnswer(Seed("create-answer")), std::string(64, 'a'));
  EXPECT_EQ(ParseCreateAnswer(R"({"Id":"abc"})").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(EngineMessage(Seed("error-404")), "No such container: nope");
  EXPECT_EQ(EngineMessage("plain\x01text\n"), "plain?text");
  EXPECT_EQ(EngineMessage(std::string(1000, 'x')).size(), 200u);
}

TEST(Answers, RefValidation) {
  EXPECT_TRUE(IsValidContainerRef(std::string(64, 'f')));
  EXPECT_TRUE(IsValidContainerRef("my_app-1.2"));
  EXPECT_FALSE(IsValidContainerRef(""));
  EXPECT_FALSE(IsValidContainerRef("../x"));
  EXPECT_FALSE(IsValidContainerRef("a/b"));
  EXPECT_FALSE(IsValidContainerRef("a b"));
  EXPECT_FALSE(IsValidContainerRef("a?x=1"));
  EXPECT_FALSE(IsValidContainerRef("-a"));
  EXPECT_FALSE(IsValidContainerRef(std::string(129, 'a')));
  EXPECT_TRUE(IsValidImageRef("sha256:" + std::string(64, 'a')));
  EXPECT_TRUE(IsValidImageRef("registry.local:5000/team/app:1.0@sha256:" + std::string(64, 'a')));
  EXPECT_FALSE(IsValidImageRef("../../containers/x"));
  EXPECT_FALSE(IsValidImageRef("/abs"));
  EXPECT_FALSE(IsValidImageRef("a?b"));
  EXPECT_FALSE(IsValidImageRef("a#b"));
  EXPECT_FALSE(IsValidImageRef("a%2e"));
  EXPECT_FALSE(IsValidImageRef("a/"));
  EXPECT_TRUE(IsImageId("sha256:" + std::string(64, '0')));
  EXPECT_FALSE(IsImageId("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsImageId("sha512:" + std::string(64, '0')));
}

}  // namespace
}  // namespace edgetrust::docker
