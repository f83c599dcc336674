// Files the CLI reads and writes, with "-" meaning stdin / stdout.
//
// Outputs go through WriteOutput: a regular file (or a name that does not exist yet) is written to
// a temporary file in the same folder and renamed into place, so a failed or interrupted command
// never leaves a half-written signature or plaintext behind. Symlinks and special files (a tty,
// /dev/null, a FIFO, /dev/stdout) are written through in place, since renaming over them would
// replace the link or the device node itself rather than write to what it points at.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::cli {

inline constexpr std::string_view kStdio = "-";

// An open input: a file, or stdin for "-". Reads in chunks so large inputs can be streamed.
class Input {
 public:
  static Result<Input> Open(const std::string& path);
  ~Input();
  Input(Input&& other) noexcept;
  Input& operator=(Input&&) = delete;
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  // Reads up to `len` bytes, fewer only at the end of the input; 0 means the end.
  Result<size_t> Read(uint8_t* buf, size_t len);
  const std::string& name() const { return name_; }

 private:
  Input(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_;
  std::string name_;  // for error messages: the path, or "stdin"
};

// Reads a whole input of at most `max_size` bytes; kTooLarge names `what` and the limit.
Result<Bytes> ReadInput(const std::string& path, size_t max_size, std::string_view what);
// The same into wiped memory, for plaintexts.
Result<SecretBytes> ReadSecretInput(const std::string& path, size_t max_size,
                                    std::string_view what);

// File modes for WriteOutput.
inline constexpr mode_t kSecretMode = 0600;  // plaintexts and random bytes
mode_t PublicMode();                         // 0666 minus the umask, as any other tool would

// Writes `data` to `path` (see the file comment), or to stdout for "-".
Status WriteOutput(const std::string& path, ByteView data, mode_t mode);
// Writes text to stdout; errors surface at FlushStdout().
void WriteStdout(std::string_view text);
// Flushes stdout and reports a failed write (a full disk, a closed pipe) as an error.
Status FlushStdout();

}  // namespace edgetrust::cli
