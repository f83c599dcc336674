// What each secure-domain backend needs around edgetrust-sd in a test: nothing for emulated,
// a swtpm for tpm, a SoftHSM2 token for pkcs11 (BRIEF.md section 5). The conformance suite and
// the fault tests run one daemon per backend through this.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "softhsm.h"
#include "swtpm.h"

namespace edgetrust::test {

class BackendEnv {
 public:
  BackendEnv(const TempDir& dir, std::string backend);

  // Starts the device the backend needs. False with the reason in error().
  bool Start();
  const std::string& error() const { return error_; }

  // `base` with --backend NAME, the backend's flags and environment added.
  SdProcess::Options DaemonOptions(SdProcess::Options base = {}) const;

  const std::string& backend() const { return backend_; }
  SwtpmProcess* swtpm() { return swtpm_.get(); }  // tpm only
  SoftHsmToken* token() { return token_.get(); }  // pkcs11 only

  // Every backend the suite runs against.
  static std::vector<std::string> All() { return {"emulated", "tpm", "pkcs11"}; }

 private:
  const TempDir& dir_;
  std::string backend_;
  std::unique_ptr<SwtpmProcess> swtpm_;
  std::unique_ptr<SoftHsmToken> token_;
  std::string error_;
};

}  // namespace edgetrust::test
