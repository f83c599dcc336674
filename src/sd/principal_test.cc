// Unit tests of caller identification: cgroup parsing, principal syntax, SO_PEERCRED.
#include "sd/principal.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace edgetrust::sd {
namespace {

// Real container ids have this shape: 64 lower-case hex digits.
const std::string kId = "3f1c7b2a9d8e4f6051a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8";
const std::string kId2 = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

TEST(ContainerIdFromCgroupTest, DockerCgroupV2) {
  EXPECT_EQ(ContainerIdFromCgroup("0::/system.slice/docker-" + kId + ".scope\n"), kId);
  EXPECT_EQ(ContainerIdFromCgroup("0::/system.slice/docker-" + kId + ".scope"), kId);  // no newline
}

TEST(ContainerIdFromCgroupTest, DockerCgroupV1) {
  const std::string text = "12:memory:/docker/" + kId +
                           "\n"
                           "11:cpuset:/docker/" +
                           kId +
                           "\n"
                           "10:pids:/docker/" +
                           kId +
                           "\n"
                           "9:devices:/docker/" +
                           kId +
                           "\n"
                           "1:name=systemd:/docker/" +
                           kId +
                           "\n"
                           "0::/system.slice/containerd.service\n";
  EXPECT_EQ(ContainerIdFromCgroup(text), kId);
  // The container may appear on any line, not only the first.
  const std::string later = "13:misc:/\n12:memory:/docker/" + kId + "\n";
  EXPECT_EQ(ContainerIdFromCgroup(later), kId);
  // Docker-in-docker nests a path below the id: the outermost container is the principal.
  EXPECT_EQ(ContainerIdFromCgroup("4:cpu:/docker/" + kId + "/docker/" + kId2 + "\n"), kId);
  // Across runtimes too: docker inside a Kubernetes pod's container resolves to the pod's one.
  EXPECT_EQ(ContainerIdFromCgroup("0::/kubepods.slice/cri-containerd-" + kId + ".scope/docker/" +
                                  kId2 + "\n"),
            kId);
  // The v2 line wins over v1 lines, and the match carries the path to verify.
  auto m = FindContainerCgroup("12:memory:/docker/" + kId2 + "\n0::/system.slice/docker-" + kId +
                               ".scope/sub\n");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->id, kId);
  EXPECT_EQ(m->controllers, "");
  EXPECT_EQ(m->path, "/system.slice/docker-" + kId + ".scope");
  // Trailing characters after ".scope", or a prefix inside a longer component, are no match.
  EXPECT_EQ(ContainerIdFromCgroup("0::/system.slice/docker-" + kId + ".scopeXYZ\n"), std::nullopt);
  EXPECT_EQ(ContainerIdFromCgroup("0::/system.slice/notdocker-" + kId + ".scope\n"), std::nullopt);
}

TEST(ContainerIdFromCgroupTest, ContainerdUnderKubepods) {
  const std::string text =
      "0::/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod5d1e0a52_0b5e_4c8f_9c5b_2f0c7d6e8a91.slice/cri-containerd-" +
      kId + ".scope\n";
  EXPECT_EQ(ContainerIdFromCgroup(text), kId);
}

TEST(ContainerIdFromCgroupTest, PodmanLibpod) {
  EXPECT_EQ(ContainerIdFromCgroup("0::/machine.slice/libpod-" + kId + ".scope\n"), kId);
  // Podman 4+ moves the payload into a "container" sub-cgroup.
  EXPECT_EQ(ContainerIdFromCgroup("0::/machine.slice/libpod-" + kId + ".scope/container\n"), kId);
}

TEST(ContainerIdFromCgroupTest, Crio) {
  const std::string text =
      "0::/kubepods.slice/kubepods-besteffort.slice/"
      "kubepods-besteffort-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/crio-" +
      kId + ".scope\n";
  EXPECT_EQ(ContainerIdFromCgroup(text), kId);
}

TEST(ContainerIdFromCgroupTest, NotAContainer) {
  const std::string upper = [] {
    std::string s = kId;
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }();
  const std::string hex63 = kId.substr(0, 63);
  const std::string not_containers[] = {
      "",
      "\n",
      "0::/\n",
      "0::/user.slice/user-1000.slice/session-3.scope\n",
      "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope\n",
      "0::/system.slice/docker.service\n",
      "0::/init.scope\n",
      // Seen in sandboxes: a 32-hex id that is not a container runtime's.
      "4:memory:/process_api/9f56bb5b1c6f1a5af71f84f2f873316e\n",
      "12:memory:/docker/" + hex63 + "\n",
      "0::/system.slice/docker-" + hex63 + ".scope\n",
      "12:memory:/docker/" + upper + "\n",
      "0::/system.slice/docker-" + upper + ".scope\n",
      // Ids followed by more characters are longer names, not ids.
      "12:memory:/docker/" + kId + "0\n",
      "12:memory:/docker/" + kId + "-init\n",
      "0::/system.slice/docker-" + kId + "x.scope\n",
      "0::/system.slice/docker-" + kId + ".mount\n",
      // CRI-O's monitor process is on the host, not in the container.
      "0::/kubepods.slice/crio-conmon-" + kId + ".scope\n",
      // Without "hierarchy:controllers:" there is no cgroup path at all.
      "/docker/" + kId + "\n",
      // The prefix must be in the path, not in the controller list.
      "12:docker-" + kId + ".scope:/\n",
  };
  for (const auto& text : not_containers) {
    EXPECT_EQ(ContainerIdFromCgroup(text), std::nullopt) << "text: " << text;
  }
}

TEST(PrincipalTest, Formatting) {
  EXPECT_EQ(PrincipalForUid(0), "uid:0");
  EXPECT_EQ(PrincipalForUid(4294967295u), "uid:4294967295");
  EXPECT_EQ(PrincipalForContainer(kId), "container:" + kId);
  EXPECT_TRUE(IsValidPrincipal(PrincipalForUid(1000)));
  EXPECT_TRUE(IsValidPrincipal(PrincipalForContainer(kId)));
}

TEST(PrincipalTest, IsValidPrincipalAccepts) {
  for (const std::string& p :
       {std::string("uid:0"), std::string("uid:1"), std::string("uid:1000"),
        std::string("uid:4294967295"), "container:" + kId, "container:" + kId2}) {
    EXPECT_TRUE(IsValidPrincipal(p)) << p;
  }
}

TEST(PrincipalTest, IsValidPrincipalRefuses) {
  for (const std::string& p :
       {std::string("uid:4294967296"), std::string("uid:99999999999"), std::string("uid:-1"),
        std::string("uid:"), std::string("uid:+1"), std::string("uid: 1"), std::string("uid:1 "),
        std::string("uid:1a"), std::string("uid:0x10"), std::string("UID:1"), std::string("uid"),
        // A principal has one spelling: the one PrincipalForUid() gives. "uid:01" could never
        // equal a caller's principal, so a grant or admin entry naming it would silently match
        // nobody.
        std::string("uid:01"), std::string("uid:00"), std::string("uid:0001000"),
        std::string("root"), std::string(""), std::string("container:"),
        "container:" + kId.substr(0, 63), "container:" + kId + "0",
        "container:" + std::string(64, 'A'), "container:" + std::string(64, 'g'), "docker:" + kId,
        std::string(" uid:1")}) {
    EXPECT_FALSE(IsValidPrincipal(p)) << p;
  }
}

// A temporary folder standing in for /proc.
class FakeProc {
 public:
  FakeProc() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "et-proc-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    root_ = tmpl;
  }
  ~FakeProc() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  void WriteCgroup(pid_t pid, const std::string& text) const {
    auto dir = std::filesystem::path(root_) / std::to_string(pid);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "cgroup") << text;
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

class SocketPair {
 public:
  SocketPair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_) != 0) std::abort();
  }
  ~SocketPair() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
  int fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
};

TEST(IdentifyPeerTest, HostProcessIsItsUid) {
  SocketPair sp;
  FakeProc proc;
  proc.WriteCgroup(::getpid(), "0::/user.slice/user-1000.slice/session-3.scope\n");
  auto peer = IdentifyPeer(sp.fd(), proc.root());
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(peer->uid, ::geteuid());
  EXPECT_EQ(peer->gid, ::getegid());
  EXPECT_EQ(peer->pid, ::getpid());
  EXPECT_EQ(peer->container_id, "");
  EXPECT_EQ(peer->principal, "uid:" + std::to_string(::geteuid()));
}

TEST(IdentifyPeerTest, UnreadableCgroupIsRefusedNotTreatedAsHost) {
  SocketPair sp;
  FakeProc proc;  // empty: no <pid>/cgroup, as when the caller exited before accept
  auto peer = IdentifyPeer(sp.fd(), proc.root());
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(peer.status().message().find("cannot read the cgroup"), std::string::npos);
}

TEST(IdentifyPeerTest, RealProcAgreesWithCgroupParser) {
  SocketPair sp;
  auto peer = IdentifyPeer(sp.fd());
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(peer->uid, ::geteuid());
  EXPECT_EQ(peer->pid, ::getpid());
  // The test may itself run in a container: the expectation follows this process's own cgroup.
  std::ifstream in("/proc/self/cgroup");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto id = ContainerIdFromCgroup(text);
  EXPECT_EQ(peer->principal, id ? "container:" + *id : "uid:" + std::to_string(::geteuid()));
}

// A fake cgroup file system: folders created here belong to the test's uid.
class FakeCgroupRoot {
 public:
  FakeCgroupRoot() : proc_() {}
  std::string root() const { return proc_.root() + "/cgroupfs"; }
  std::string Make(const std::string& path) {
    std::filesystem::create_directories(root() + path);
    return root() + path;
  }

 private:
  FakeProc proc_;
};

TEST(IdentifyPeerTest, ContainerProcessIsItsContainer) {
  if (::geteuid() != 0) GTEST_SKIP() << "root-owned cgroup folders need root";
  SocketPair sp;
  FakeProc proc;
  FakeCgroupRoot cg;
  cg.Make("/system.slice/docker-" + kId + ".scope");
  proc.WriteCgroup(::getpid(), "13:misc:/\n12:memory:/docker/" + kId +
                                   "\n0::/system.slice/docker-" + kId + ".scope\n");
  auto peer = IdentifyPeer(sp.fd(), proc.root(), cg.root());
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(peer->uid, ::geteuid());  // still reported, but not the principal
  EXPECT_EQ(peer->container_id, kId);
  EXPECT_EQ(peer->principal, "container:" + kId);
}

TEST(IdentifyPeerTest, UserCreatedContainerLookalikeCgroupIsItsUid) {
  // systemd-run --user --scope --unit docker-<id> makes such a cgroup in the user's delegated
  // subtree; it belongs to the user, so the caller is that user, not the container.
  SocketPair sp;
  FakeProc proc;
  FakeCgroupRoot cg;
  const std::string path =
      "/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" + kId + ".scope";
  std::string dir = cg.Make(path);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(dir.c_str(), 1000, 1000), 0);
  }
  proc.WriteCgroup(::getpid(), "0::" + path + "\n");
  auto peer = IdentifyPeer(sp.fd(), proc.root(), cg.root());
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(peer->container_id, "");
  EXPECT_EQ(peer->principal, "uid:" + std::to_string(::geteuid()));
}

TEST(IdentifyPeerTest, UnverifiableContainerCgroupIsRefused) {
  SocketPair sp;
  FakeProc proc;
  FakeCgroupRoot cg;  // no folder for the container's cgroup
  proc.WriteCgroup(::getpid(), "0::/system.slice/docker-" + kId + ".scope\n");
  auto peer = IdentifyPeer(sp.fd(), proc.root(), cg.root());
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.status().code(), ErrorCode::kPermissionDenied);
}

TEST(IdentifyPeerTest, OtherPidsCgroupIsNotUsed) {
  SocketPair sp;
  FakeProc proc;
  proc.WriteCgroup(::getpid(), "0::/user.slice/user-0.slice/session-1.scope\n");
  proc.WriteCgroup(::getpid() + 1, "0::/system.slice/docker-" + kId + ".scope\n");
  auto peer = IdentifyPeer(sp.fd(), proc.root());
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(peer->principal, "uid:" + std::to_string(::geteuid()));
}

TEST(IdentifyPeerTest, NotASocketFails) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  auto peer = IdentifyPeer(pipefd[0]);
  EXPECT_FALSE(peer.ok());
  EXPECT_EQ(peer.status().code(), ErrorCode::kInternal);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  EXPECT_FALSE(IdentifyPeer(-1).ok());
}

}  // namespace
}  // namespace edgetrust::sd
