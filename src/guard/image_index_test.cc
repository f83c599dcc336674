#include "guard/image_index.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "guard/file_hash.h"
#include "guard/test_overlay.h"

namespace edgetrust::guard {
namespace {

namespace fs = std::filesystem;
using testing::Overlay;
using testing::TempDir;

class ImageIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (whiteouts, trusted.* xattrs, overlay)";
    overlay_ = std::make_unique<Overlay>(dir_.path());
    testing::PopulateImage(*overlay_);
  }
  std::shared_ptr<const ImageIndex> Build() {
    auto idx = ImageIndex::Build(overlay_->lowers());
    EXPECT_TRUE(idx.ok()) << idx.status().ToString();
    return idx.ok() ? *idx : nullptr;
  }
  TempDir dir_;
  std::unique_ptr<Overlay> overlay_;
};

// The kernel's own view of the layers (the mounted overlay, walked without following symlinks).
std::map<std::string, IndexEntry::Type> KernelView(const std::string& merged) {
  std::map<std::string, IndexEntry::Type> out{{"/", IndexEntry::kDir}};
  for (auto it = fs::recursive_directory_iterator(merged); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string path = it->path().string().substr(merged.size());
    const auto st = it->symlink_status().type();
    out[path] = st == fs::file_type::regular     ? IndexEntry::kFile
                : st == fs::file_type::directory ? IndexEntry::kDir
                : st == fs::file_type::symlink   ? IndexEntry::kSymlink
                                                 : IndexEntry::kOther;
  }
  return out;
}

TEST_F(ImageIndexTest, OverlaySemanticsMatchTheKernel) {
  auto idx = Build();
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->Find("/etc/removed"), nullptr);        // whiteout
  EXPECT_EQ(idx->Find("/opaque/below_file"), nullptr);  // opaque folder above
  ASSERT_NE(idx->Find("/opaque/top_file"), nullptr);
  ASSERT_NE(idx->Find("/etc/keep"), nullptr);
  EXPECT_EQ(idx->Find("/etc/keep")->sha256, Sha256Hex("keep-top", 8));  // the upper one
  const IndexEntry* bb = idx->Find("/bin/busybox");
  ASSERT_NE(bb, nullptr);
  EXPECT_EQ(bb->type, IndexEntry::kFile);
  EXPECT_EQ(bb->mode, 0755u);
  EXPECT_EQ(bb->sha256, testing::OpensslSha256("/bin/busybox"));
  EXPECT_EQ(bb->size, fs::file_size("/bin/busybox"));

  const std::string why = overlay_->Mount();
  if (!why.empty()) GTEST_SKIP() << why;
  std::map<std::string, IndexEntry::Type> index_view;
  for (const auto& [path, e] : idx->entries()) index_view[path] = e.type;
  EXPECT_EQ(index_view, KernelView(overlay_->merged));
}

TEST_F(ImageIndexTest, SymlinksAreRecordedNotFollowed) {
  auto idx = Build();
  ASSERT_TRUE(idx);
  const IndexEntry* esc = idx->Find("/escape");
  ASSERT_NE(esc, nullptr);
  EXPECT_EQ(esc->type, IndexEntry::kSymlink);
  EXPECT_EQ(esc->sha256, Sha256Hex("../../../..", 11));
  const IndexEntry* hosts = idx->Find("/etc/hosts_link");
  ASSERT_NE(hosts, nullptr);
  EXPECT_EQ(hosts->type, IndexEntry::kSymlink);
  EXPECT_EQ(hosts->size, 10u);
  for (const auto& [path, e] : idx->entries()) {
    EXPECT_NE(path.rfind("/escape/", 0), 0u) << "followed the symlink: " << path;
  }
  EXPECT_EQ(idx->Find("/bin/true")->type, IndexEntry::kSymlink);
}

TEST_F(ImageIndexTest, Limits) {
  IndexLimits few;
  few.max_entries = 3;
  auto r = ImageIndex::Build(overlay_->lowers(), few);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTooLarge);

  IndexLimits small;
  small.max_total_bytes = 1000;
  r = ImageIndex::Build(overlay_->lowers(), small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTooLarge);

  testing::MakeDirs(overlay_->lower2 + "/d/d/d/d/d/d");
  IndexLimits shallow;
  shallow.max_depth = 4;
  r = ImageIndex::Build(overlay_->lowers(), shallow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTooLarge);

  r = ImageIndex::Build({overlay_->lower1, dir_.path() + "/nonexistent"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kIoError);
  EXPECT_NE(r.status().message().find("nonexistent"), std::string::npos);
}

TEST_F(ImageIndexTest, DigestCoversTheView) {
  auto a = Build();
  auto b = Build();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->digest().size(), 64u);
  EXPECT_EQ(a->digest(), b->digest());
  ASSERT_EQ(::chmod((overlay_->lower2 + "/etc/removed").c_str(), 0600), 0);  // hidden: no change
  EXPECT_EQ(Build()->digest(), a->digest());
  ASSERT_EQ(::chmod((overlay_->lower1 + "/etc/keep").c_str(), 0600), 0);
  EXPECT_NE(Build()->digest(), a->digest());
}

TEST_F(ImageIndexTest, VerifyLayersFindsTampering) {
  auto idx = Build();
  ASSERT_TRUE(idx);
  auto intact = VerifyLayers(*idx);
  ASSERT_TRUE(intact.ok()) << intact.status().ToString();
  EXPECT_TRUE(intact->empty());

  testing::WriteFile(overlay_->lower2 + "/bin/tool2", "#!/bin/sh\necho evil\n", 0755);  // changed
  testing::WriteFile(overlay_->lower1 + "/bin/added", "new", 0755);                     // added
  ASSERT_EQ(::unlink((overlay_->lower1 + "/opaque/top_file").c_str()), 0);              // removed
  auto diff = VerifyLayers(*idx);
  ASSERT_TRUE(diff.ok()) << diff.status().ToString();
  ASSERT_EQ(diff->size(), 3u);
  std::map<std::string, LayerDifference> by_path;
  for (const auto& d : *diff) by_path[d.path] = d;
  ASSERT_TRUE(by_path.count("/bin/tool2"));
  EXPECT_EQ(by_path["/bin/tool2"].kind, LayerDifference::kChanged);
  EXPECT_EQ(by_path["/bin/tool2"].expected, idx->Find("/bin/tool2")->sha256);
  EXPECT_EQ(by_path["/bin/tool2"].found, testing::OpensslSha256(overlay_->lower2 + "/bin/tool2"));
  ASSERT_TRUE(by_path.count("/bin/added"));
  EXPECT_EQ(by_path["/bin/added"].kind, LayerDifference::kAdded);
  EXPECT_EQ(by_path["/bin/added"].found, Sha256Hex("new", 3));
  ASSERT_TRUE(by_path.count("/opaque/top_file"));
  EXPECT_EQ(by_path["/opaque/top_file"].kind, LayerDifference::kRemoved);
  EXPECT_TRUE(by_path["/opaque/top_file"].found.empty());

  fs::remove_all(overlay_->lower1);
  auto gone = VerifyLayers(*idx);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), ErrorCode::kIoError);
}

TEST(HashFile, MatchesOpenssl) {
  auto h = HashFile("/bin/busybox");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(*h, testing::OpensslSha256("/bin/busybox"));
  EXPECT_EQ(HashFile("/nonexistent/x").status().code(), ErrorCode::kIoError);
}

}  // namespace
}  // namespace edgetrust::guard
