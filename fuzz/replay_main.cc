// Corpus replay without libFuzzer: runs LLVMFuzzerTestOneInput once on every file named on the
// command line and on every regular file inside the folders named there (not recursive, like a
// libFuzzer corpus). Linked with each fuzz target as fuzz_<name>_replay, so ctest replays the seed
// corpora with any compiler and under the sanitizer presets.
//
// Each input goes to the target in a heap buffer of its exact size, so ASan sees over-reads.
// Exit status: 0 when every input ran; 1 when an argument is missing, unreadable or an empty
// folder (a corpus that silently vanished must not pass); 2 on bad usage. A failing input crashes
// the process (sanitizer report or __builtin_trap), after its name has been printed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool Collect(const fs::path& arg, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    out.push_back(arg);
    return true;
  }
  if (!fs::is_directory(arg, ec)) {
    std::fprintf(stderr, "replay: %s: no such file or folder\n", arg.c_str());
    return false;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) {
    std::fprintf(stderr, "replay: %s: %s\n", arg.c_str(), ec.message().c_str());
    return false;
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: %s: folder holds no inputs\n", arg.c_str());
    return false;
  }
  std::sort(files.begin(), files.end());
  out.insert(out.end(), files.begin(), files.end());
  return true;
}

bool Run(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
    return false;
  }
  std::printf("replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
  std::fflush(stdout);
  auto buffer = std::make_unique<uint8_t[]>(bytes.size());  // never null, even for 0 bytes
  std::copy(bytes.begin(), bytes.end(), buffer.get());
  LLVMFuzzerTestOneInput(buffer.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_FOLDER_OR_FILE...\n", argc > 0 ? argv[0] : "replay");
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (!Collect(argv[i], files)) return 1;
  }
  size_t ran = 0;
  for (const auto& f : files) {
    if (!Run(f)) return 1;
    ++ran;
  }
  std::printf("replay: %zu input(s) ran\n", ran);
  return 0;
}
