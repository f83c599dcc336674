#include "guard/quarantine.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgetrust::guard {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/guard-quarantine-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::mkdir((dir_ + "/upper").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/upper/etc").c_str(), 0755), 0);
    std::ofstream(dir_ + "/upper/etc/evil") << "malware";
    ::chmod((dir_ + "/upper/etc/evil").c_str(), 04755);
    std::ofstream(dir_ + "/secret-outside") << "host secret";
    // A link out of the layer: copied as a link, never followed.
    ASSERT_EQ(::symlink((dir_ + "/secret-outside").c_str(), (dir_ + "/upper/etc/link").c_str()), 0);
    ::mkdir((dir_ + "/out").c_str(), 0700);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(QuarantineTest, CopiesFilesAndLinksWithoutFollowingOrKeepingSetuid) {
  auto r = CopyLayer(dir_ + "/upper", dir_ + "/out/upper", 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 1u);
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(Read(dir_ + "/out/upper/etc/evil"), "malware");
  struct stat st {};
  ASSERT_EQ(::lstat((dir_ + "/out/upper/etc/evil").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 06000, 0u) << "a forensic copy must not be setuid";
  ASSERT_EQ(::lstat((dir_ + "/out/upper/etc/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(QuarantineTest, DeviceNodesAndWhiteoutsAreListedNotCreated) {
  ASSERT_EQ(::mknod((dir_ + "/upper/etc/gone").c_str(), S_IFCHR | 0600, makedev(0, 0)), 0)
      << "needs root (whiteouts are 0/0 character devices)";
  auto r = CopyLayer(dir_ + "/upper", dir_ + "/out/upper", 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  struct stat st {};
  EXPECT_NE(::lstat((dir_ + "/out/upper/etc/gone").c_str(), &st), 0);
  EXPECT_NE(Read(dir_ + "/out/special.txt").find("/etc/gone"), std::string::npos);
}

TEST_F(QuarantineTest, StopsAtTheByteLimit) {
  std::ofstream(dir_ + "/upper/big") << std::string(100000, 'z');
  auto r = CopyLayer(dir_ + "/upper", dir_ + "/out/upper", 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->truncated);
  EXPECT_LE(r->bytes, 1000u);
  EXPECT_NE(Read(dir_ + "/out/truncated.txt").find("1000"), std::string::npos);
}

TEST_F(QuarantineTest, RefusesAnExistingTargetAndAMissingSource) {
  ::mkdir((dir_ + "/out/upper").c_str(), 0700);
  EXPECT_FALSE(CopyLayer(dir_ + "/upper", dir_ + "/out/upper", 1 << 20).ok());
  EXPECT_FALSE(CopyLayer(dir_ + "/nope", dir_ + "/out/other", 1 << 20).ok());
}

}  // namespace
}  // namespace edgetrust::guard
