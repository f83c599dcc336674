// A SoftHSM2 token in a temporary folder (BRIEF.md section 5): its own softhsm2.conf (pointed to
// by SOFTHSM2_CONF) and token directory, initialised with softhsm2-util --init-token. The files
// are made readable by the unprivileged user edgetrust-sd runs as.
#pragma once

#include <string>

#include "harness.h"

namespace edgetrust::test {

class SoftHsmToken {
 public:
  explicit SoftHsmToken(const TempDir& dir, std::string label = "edgetrust");

  // Writes the config and initialises the token with a user PIN and an SO PIN. False on failure
  // (the reason in error()).
  bool Init();
  const std::string& error() const { return error_; }

  const std::string& label() const { return label_; }
  const std::string& pin() const { return pin_; }
  // A file (mode 0644 inside the test's folder) whose first line is the user PIN.
  const std::string& pin_file() const { return pin_file_; }
  // The SOFTHSM2_CONF value, and "SOFTHSM2_CONF=<path>" for a child's environment.
  const std::string& conf() const { return conf_; }
  std::string EnvAssignment() const { return "SOFTHSM2_CONF=" + conf_; }
  // directories.tokendir of the config: one subfolder per token. Moving it away (and back)
  // takes every token of this config away from a running module, like pulling a USB token.
  const std::string& tokens_dir() const { return tokens_dir_; }
  // The SoftHSM2 module installed by Debian's softhsm2 package.
  static std::string Module();
  static bool Available();

 private:
  const TempDir& dir_;
  std::string label_;
  std::string pin_ = "123456";
  std::string so_pin_ = "12345678";
  std::string conf_;
  std::string tokens_dir_;
  std::string pin_file_;
  std::string error_;
};

}  // namespace edgetrust::test
