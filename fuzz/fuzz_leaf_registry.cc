// Fuzz target: the agent's leaf registry file (agent/leaf_registry.h), <state-dir>/leaves.json, a
// file that decides which sensors the gateway admits and that an operator may edit by hand.
//
// ParseLeafRegistry on the input as text. A rejected file must be kMalformed or kTooLarge with a
// message. An accepted one must hold only what the registry itself can produce (valid, unique,
// sorted names; the consistency rules between auth, state, token and times), survive a round
// trip (serialising and parsing again gives the same records and the same text), and open as a
// LeafRegistry that admits each leaf exactly as its state and authentication say.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/leaf_registry.h"
#include "common/fd_io.h"
#include "fuzz_util.h"

namespace {

using edgetrust::ErrorCode;
using edgetrust::agent::LeafAuth;
using edgetrust::agent::LeafRecord;
using edgetrust::agent::LeafRegistry;
using edgetrust::agent::LeafState;

// A folder of this process for the registry file the target opens, removed at exit.
std::string scratch_dir;

void RemoveScratch() {
  ::unlink((scratch_dir + "/leaves.json").c_str());
  ::rmdir(scratch_dir.c_str());
}

std::string ScratchFile() {
  if (scratch_dir.empty()) {
    // In memory when the machine has /dev/shm: the file is rewritten for every input.
    char shm[] = "/dev/shm/et-fuzz-leaf-registry-XXXXXX";
    char tmp[] = "/tmp/et-fuzz-leaf-registry-XXXXXX";
    const char* dir = ::mkdtemp(shm);
    if (dir == nullptr) dir = ::mkdtemp(tmp);
    if (dir == nullptr) __builtin_trap();
    scratch_dir = dir;
    std::atexit(RemoveScratch);
  }
  return scratch_dir + "/leaves.json";
}

// A plain write: the atomic, fsynced write of the registry itself is not what is tested here,
// and an fsync per input would slow the fuzzer down a hundredfold.
void WriteScratch(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || edgetrust::WriteAll(fd, edgetrust::AsBytes(text)) != 0) __builtin_trap();
  ::close(fd);
}

// Which presented authentication Admit lets in, from the record alone.
bool ShouldAdmit(const LeafRecord& r, LeafAuth presented) {
  if (r.state == LeafState::kRevoked) return false;
  if (r.state == LeafState::kPending) return presented == LeafAuth::kEnrollment;
  return presented == r.auth;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace agent = edgetrust::agent;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = agent::ParseLeafRegistry(text);
  if (!parsed.ok()) {
    const ErrorCode code = parsed.status().code();
    ET_FUZZ_CHECK(code == ErrorCode::kMalformed || code == ErrorCode::kTooLarge);
    ET_FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const auto& leaves = *parsed;
  ET_FUZZ_CHECK(leaves.size() <= agent::kMaxLeaves);
  for (size_t i = 0; i < leaves.size(); ++i) {
    const LeafRecord& r = leaves[i];
    ET_FUZZ_CHECK(LeafRegistry::IsValidName(r.name));
    ET_FUZZ_CHECK(i == 0 || leaves[i - 1].name < r.name);  // sorted, unique
    ET_FUZZ_CHECK(r.created_ms >= 0 && r.token_expires_ms >= 0 && r.enrolled_ms >= 0 &&
                  r.revoked_ms >= 0);
    ET_FUZZ_CHECK(r.token_sha256_hex.empty() || r.token_sha256_hex.size() == 64);
    ET_FUZZ_CHECK(r.cert_serial_hex.size() <= agent::kMaxCertSerialHexLength);
    if (r.state == LeafState::kPending) {
      ET_FUZZ_CHECK(r.auth == LeafAuth::kEnrollment && !r.token_sha256_hex.empty() &&
                    !r.token_used);
    }
    if (r.auth == LeafAuth::kEnrollment) ET_FUZZ_CHECK(r.state != LeafState::kActive);
    if (r.auth == LeafAuth::kPsk) ET_FUZZ_CHECK(r.token_sha256_hex.empty());
    ET_FUZZ_CHECK(r.token_used == !r.cert_serial_hex.empty());
    ET_FUZZ_CHECK((r.state == LeafState::kRevoked) == (r.revoked_ms != 0));
  }
  const std::string out = agent::SerializeLeafRegistry(leaves);
  auto again = agent::ParseLeafRegistry(out);
  ET_FUZZ_CHECK(again.ok());
  ET_FUZZ_CHECK(*again == leaves);
  ET_FUZZ_CHECK(agent::SerializeLeafRegistry(*again) == out);

  // The file as the agent opens it, and what the registry then admits.
  const std::string path = ScratchFile();
  WriteScratch(path, text);
  auto registry = LeafRegistry::Open(path);
  ET_FUZZ_CHECK(registry.ok());
  ET_FUZZ_CHECK((*registry)->List() == leaves);
  for (const LeafRecord& r : leaves) {
    for (LeafAuth presented : {LeafAuth::kCertificate, LeafAuth::kPsk, LeafAuth::kEnrollment}) {
      edgetrust::Status st = (*registry)->Admit(r.name, presented);
      ET_FUZZ_CHECK(st.ok() == ShouldAdmit(r, presented));
      ET_FUZZ_CHECK(st.ok() || st.code() == ErrorCode::kPermissionDenied);
    }
    // A token-less leaf refuses every token; any other refuses a token whose hash is not the
    // stored one (here the empty token, unless a hand-made file stores exactly its hash).
    constexpr std::string_view kEmptyTokenHash =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    if (r.token_sha256_hex != kEmptyTokenHash) {
      edgetrust::Status check = (*registry)->CheckToken(r.name, "", 0);
      ET_FUZZ_CHECK(check.code() == (r.token_sha256_hex.empty() ? ErrorCode::kPermissionDenied
                                                                : ErrorCode::kVerifyFailed));
    }
  }
  return 0;
}
