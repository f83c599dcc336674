#include "backend_env.h"

// SoftHSM2 2.6 leaks a little by itself; an ASan build of the daemon loading it must not fail
// its exit for that (src/sd/pkcs11/softhsm-lsan.supp names exactly what is suppressed).
#ifndef EDGETRUST_SOFTHSM_LSAN_SUPP
#define EDGETRUST_SOFTHSM_LSAN_SUPP ""
#endif

namespace edgetrust::test {

BackendEnv::BackendEnv(const TempDir& dir, std::string backend)
    : dir_(dir), backend_(std::move(backend)) {}

bool BackendEnv::Start() {
  if (backend_ == "tpm") {
    if (!SwtpmProcess::Available()) {
      error_ = "swtpm is not installed (scripts/install-deps.sh installs it)";
      return false;
    }
    swtpm_ = std::make_unique<SwtpmProcess>(dir_);
    if (!swtpm_->Start()) {
      error_ = "swtpm did not start (" + swtpm_->attempts() + "): " + swtpm_->log();
      return false;
    }
  } else if (backend_ == "pkcs11") {
    if (!SoftHsmToken::Available()) {
      error_ = "SoftHSM2 is not installed (scripts/install-deps.sh installs it)";
      return false;
    }
    token_ = std::make_unique<SoftHsmToken>(dir_);
    if (!token_->Init()) {
      error_ = "SoftHSM2 token: " + token_->error();
      return false;
    }
  } else if (backend_ != "emulated") {
    error_ = "unknown backend " + backend_;
    return false;
  }
  return true;
}

SdProcess::Options BackendEnv::DaemonOptions(SdProcess::Options base) const {
  base.extra_args.insert(base.extra_args.end(), {"--backend", backend_});
  if (swtpm_) base.extra_args.insert(base.extra_args.end(), {"--tpm-tcti", swtpm_->Tcti()});
  if (token_) {
    base.extra_args.insert(base.extra_args.end(),
                           {"--pkcs11-module", SoftHsmToken::Module(), "--pkcs11-token",
                            token_->label(), "--pkcs11-pin-file", token_->pin_file()});
    base.env.push_back(token_->EnvAssignment());
    if (const std::string supp = EDGETRUST_SOFTHSM_LSAN_SUPP; !supp.empty()) {
      // The slow unwinder reaches SoftHSM's frames below libcrypto's.
      base.env.push_back("LSAN_OPTIONS=suppressions=" + supp + ":fast_unwind_on_malloc=0");
    }
  }
  return base;
}

}  // namespace edgetrust::test
