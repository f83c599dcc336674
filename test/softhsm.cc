#include "softhsm.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace edgetrust::test {
namespace {

// Gives the token folder to the user edgetrust-sd drops to when the tests start it as root
// (SdProcess: --user daemon): SoftHSM2 reads and rewrites its token files on every change.
bool GiveToDaemonUser(const std::string& dir, std::string* error) {
  passwd* pw = ::getpwnam("daemon");
  if (pw == nullptr) {
    *error = "no user named daemon";
    return false;
  }
  std::error_code ec;
  auto give = [&](const std::filesystem::path& p, bool is_dir) {
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) return false;
    return ::chmod(p.c_str(), is_dir ? 0700 : 0600) == 0;
  };
  if (!give(dir, true)) {
    *error = "cannot chown " + dir;
    return false;
  }
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!give(it->path(), it->is_directory())) {
      *error = "cannot chown " + it->path().string();
      return false;
    }
  }
  if (ec) {
    *error = "cannot walk " + dir + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace

SoftHsmToken::SoftHsmToken(const TempDir& dir, std::string label)
    : dir_(dir),
      label_(std::move(label)),
      conf_(dir.File("softhsm2.conf")),
      tokens_dir_(dir.File("tokens")),
      pin_file_(dir.File("softhsm-" + label_ + ".pin")) {}

std::string SoftHsmToken::Module() { return "/usr/lib/softhsm/libsofthsm2.so"; }

bool SoftHsmToken::Available() {
  return ::access(Module().c_str(), R_OK) == 0 &&
         RunCommand({"softhsm2-util", "--version"}).exit_code == 0;
}

bool SoftHsmToken::Init() {
  std::error_code ec;
  std::filesystem::create_directories(tokens_dir_, ec);
  if (ec) {
    error_ = "cannot create " + tokens_dir_ + ": " + ec.message();
    return false;
  }
  // Several tokens of one test folder share the config and its token folder.
  {
    std::ofstream out(conf_, std::ios::trunc);
    out << "directories.tokendir = " << tokens_dir_ << "\n"
        << "objectstore.backend = file\n"
        << "log.level = ERROR\n";
    if (!out) {
      error_ = "cannot write " + conf_;
      return false;
    }
  }
  ::chmod(conf_.c_str(), 0644);
  CommandResult r = RunCommand({"env", EnvAssignment(), "softhsm2-util", "--init-token", "--free",
                                "--label", label_, "--pin", pin_, "--so-pin", so_pin_});
  if (r.exit_code != 0) {
    error_ =
        "softhsm2-util --init-token failed (" + std::to_string(r.exit_code) + "): " + r.out + r.err;
    return false;
  }
  WriteText(pin_file_, pin_ + "\n");
  ::chmod(pin_file_.c_str(), 0644);
  if (IsRoot() && !GiveToDaemonUser(tokens_dir_, &error_)) return false;
  return true;
}

}  // namespace edgetrust::test
