// The parsers of Docker engine answers (src/docker/answers.h): what a compromised or buggy engine
// could send the container guard. First byte selects the parser ('v' version, 'i' image inspect,
// 'c' container inspect, 'l' list, 'h' changes, 'e' one event line, 'r' create answer, 'd' load
// stream, 'p' pull progress; any other byte: its value mod 9 in that order); the rest is the
// answer. EngineMessage runs on every input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "docker/answers.h"

namespace {

// As ET_FUZZ_CHECK of fuzz_util.h, which this target does not include (it pulls in et_protocol).
[[noreturn]] void InvariantFailed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", file, line, what);
  std::fflush(stderr);
  __builtin_trap();
}
#define FUZZ_CHECK(cond)                                     \
  do {                                                       \
    if (!(cond)) InvariantFailed(#cond, __FILE__, __LINE__); \
  } while (0)

using edgetrust::ErrorCode;
using edgetrust::Status;
namespace d = edgetrust::docker;

void CheckError(const Status& s) {
  FUZZ_CHECK(!s.ok());
  FUZZ_CHECK(s.code() == ErrorCode::kMalformed || s.code() == ErrorCode::kTooLarge);
  FUZZ_CHECK(!s.message().empty());
}

// Stream parsers also report the engine's own {"error"} lines as kInternal.
void CheckStreamError(const Status& s) {
  FUZZ_CHECK(!s.ok());
  FUZZ_CHECK(s.code() == ErrorCode::kMalformed || s.code() == ErrorCode::kTooLarge ||
             s.code() == ErrorCode::kInternal);
  FUZZ_CHECK(!s.message().empty());
}

bool NoLeadingSlash(const std::string& s) { return s.empty() || s.front() != '/'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  int which = -1;
  switch (data[0]) {
    case 'v':
      which = 0;
      break;
    case 'i':
      which = 1;
      break;
    case 'c':
      which = 2;
      break;
    case 'l':
      which = 3;
      break;
    case 'h':
      which = 4;
      break;
    case 'e':
      which = 5;
      break;
    case 'r':
      which = 6;
      break;
    case 'd':
      which = 7;
      break;
    case 'p':
      which = 8;
      break;
    default:
      which = data[0] % 9;
      break;
  }

  const std::string message = d::EngineMessage(text);
  (void)message;

  switch (which) {
    case 0: {
      auto v = d::ParseVersion(text);
      if (!v.ok()) CheckError(v.status());
      break;
    }
    case 1: {
      auto i = d::ParseImageInspect(text);
      if (!i.ok()) {
        CheckError(i.status());
        break;
      }
      FUZZ_CHECK(d::IsImageId(i->id));
      for (const auto& l : i->layers) FUZZ_CHECK(d::IsImageId(l));
      for (const auto& l : i->lower_dirs) FUZZ_CHECK(l.find(':') == std::string::npos);
      break;
    }
    case 2: {
      auto c = d::ParseContainerInspect(text);
      if (!c.ok()) {
        CheckError(c.status());
        break;
      }
      FUZZ_CHECK(d::IsHex64(c->id));
      FUZZ_CHECK(d::IsImageId(c->image));
      FUZZ_CHECK(c->state.pid >= 0);
      FUZZ_CHECK(NoLeadingSlash(c->name) || c->name.size() > 1);  // one '/' stripped
      for (const auto& l : c->lower_dirs) FUZZ_CHECK(l.find(':') == std::string::npos);
      break;
    }
    case 3: {
      auto l = d::ParseContainerList(text);
      if (!l.ok()) {
        CheckError(l.status());
        break;
      }
      for (const auto& c : *l) {
        FUZZ_CHECK(d::IsHex64(c.id));
        FUZZ_CHECK(d::IsImageId(c.image_id));
      }
      break;
    }
    case 4: {
      auto ch = d::ParseChanges(text);
      if (!ch.ok()) {
        CheckError(ch.status());
        break;
      }
      for (const auto& c : *ch) {
        FUZZ_CHECK(!c.path.empty() && c.path.front() == '/');
        FUZZ_CHECK(c.kind >= d::Change::kModified && c.kind <= d::Change::kDeleted);
      }
      break;
    }
    case 5: {
      auto e = d::ParseEvent(text);
      if (!e.ok()) CheckError(e.status());
      break;
    }
    case 6: {
      auto id = d::ParseCreateAnswer(text);
      if (!id.ok()) {
        CheckError(id.status());
        break;
      }
      FUZZ_CHECK(d::IsHex64(*id));
      break;
    }
    case 7: {
      auto loaded = d::ParseLoadStream(text);
      if (!loaded.ok()) {
        CheckStreamError(loaded.status());
        break;
      }
      FUZZ_CHECK(!loaded->empty());
      for (const auto& r : *loaded) FUZZ_CHECK(d::IsImageId(r) || d::IsValidImageRef(r));
      break;
    }
    default: {
      const Status s = d::ParseProgressStream(text);
      if (!s.ok()) CheckStreamError(s);
      break;
    }
  }
  return 0;
}
