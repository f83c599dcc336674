#include "guard/paths.h"

#include <gtest/gtest.h>

#include "guard/image_index.h"

namespace edgetrust::guard {
namespace {

std::string Norm(const std::string& p) {
  auto r = NormalisePath(p);
  EXPECT_TRUE(r.ok()) << p << ": " << r.status().ToString();
  return r.ok() ? *r : "";
}

TEST(NormalisePath, Cases) {
  EXPECT_EQ(Norm("/"), "/");
  EXPECT_EQ(Norm("//"), "/");
  EXPECT_EQ(Norm("/a/./b//c"), "/a/b/c");
  EXPECT_EQ(Norm("/a/b/"), "/a/b");
  EXPECT_EQ(Norm("/a/../b"), "/b");
  EXPECT_EQ(Norm("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Norm("/a/b/../../.."), "/");
  EXPECT_EQ(Norm("/..."), "/...");
  EXPECT_EQ(Norm("/a/.b/..c"), "/a/.b/..c");
}

TEST(NormalisePath, RejectsRelativeEmptyAndNul) {
  for (const std::string& p :
       {std::string(""), std::string("a/b"), std::string("./a"), std::string("/a\0b", 4)}) {
    auto r = NormalisePath(p);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(StripMergedPrefix, HostAndContainerPaths) {
  const std::string m = "/tmp/x/merged";
  EXPECT_EQ(StripMergedPrefix("/tmp/x/merged/bin/sh", m), "/bin/sh");
  EXPECT_EQ(StripMergedPrefix("/tmp/x/merged", m), "/");
  EXPECT_EQ(StripMergedPrefix("/bin/sh", m), "/bin/sh");
  EXPECT_EQ(StripMergedPrefix("/tmp/x/merged2/bin/sh", m), "/tmp/x/merged2/bin/sh");
}

TEST(IsUnderPrefix, SlashBoundaries) {
  EXPECT_TRUE(IsUnderPrefix("/var/lib", "/var/lib"));
  EXPECT_TRUE(IsUnderPrefix("/var/lib/x", "/var/lib"));
  EXPECT_FALSE(IsUnderPrefix("/var/library", "/var/lib"));
  EXPECT_FALSE(IsUnderPrefix("/var", "/var/lib"));
  EXPECT_TRUE(IsUnderPrefix("/anything", "/"));
  EXPECT_TRUE(IsUnderAny("/tmp/a", {"/data", "/tmp"}));
  EXPECT_FALSE(IsUnderAny("/etc/a", {"/data", "/tmp"}));
  EXPECT_FALSE(IsUnderAny("/etc/a", {}));
}

}  // namespace
}  // namespace edgetrust::guard
