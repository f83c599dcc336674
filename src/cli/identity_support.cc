#include "cli/identity_support.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "cli/io.h"
#include "cli/output.h"

namespace edgetrust::cli {

void AddCertDirOption(CLI::App* command, std::string& dir) {
  command->add_option("--cert-dir", dir,
                      "Certificate folder (default: $EDGETRUST_CERT_DIR, else " +
                          std::string(identity::kDefaultCertDir) + ")");
}

Result<identity::CertStore> OpenCertStore(const std::string& flag, bool create) {
  return identity::CertStore::Open(identity::ResolveCertDir(flag), create);
}

Result<std::unique_ptr<identity::SdKeyService>> KeyServiceFor(Context& ctx) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  std::string socket = ctx.options().socket;
  if (socket.empty()) {
    if (const char* env = std::getenv("EDGETRUST_SOCKET"); env != nullptr) socket = env;
  }
  // key.pem files are read by other programs from other folders: name the socket absolutely.
  if (!socket.empty() && socket[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) != nullptr) socket = std::string(cwd) + "/" + socket;
  }
  return std::make_unique<identity::SdKeyService>(client, socket);
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string FormatTimeOrDash(int64_t t) {
  if (t <= 0) return "-";
  return FormatTime(static_cast<uint64_t>(t));
}

Result<std::string> ReadTextInput(const std::string& path, size_t max, std::string_view what) {
  ET_ASSIGN_OR_RETURN(Bytes data, ReadInput(path, max, what));
  return std::string(data.begin(), data.end());
}

}  // namespace edgetrust::cli
