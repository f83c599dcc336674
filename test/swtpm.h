// swtpm, the TPM 2.0 simulator, started for a test on free loopback ports with its state in a
// temporary folder (BRIEF.md section 5):
//   swtpm socket --tpm2 --server type=tcp,port=P --ctrl type=tcp,port=Q
//         --tpmstate dir=D --flags not-need-init,startup-clear
// Kill() and Start() again keep the state and the ports, so a test can take the TPM away and
// bring it back (a TPM "reboot": PCRs reset, persistent objects and NV kept).
#pragma once

#include <sys/types.h>

#include <string>

#include "harness.h"

namespace edgetrust::test {

class SwtpmProcess {
 public:
  explicit SwtpmProcess(const TempDir& dir);
  ~SwtpmProcess();
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;

  // Starts swtpm and waits (up to 30 s) until its server port accepts. False on failure.
  bool Start();
  void Kill();  // SIGKILL and wait; no-op when not running
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  int ctrl_port() const { return ctrl_port_; }
  // The tpm2-tss TCTI for edgetrust-sd --tpm-tcti and for tpm2-tools (TPM2TOOLS_TCTI).
  std::string Tcti() const;
  std::string log() const;
  // What each start attempt ended with (exit status, ports), for failure messages.
  const std::string& attempts() const { return attempts_; }

  // Whether the swtpm binary is installed (install-deps.sh installs it).
  static bool Available();

 private:
  const TempDir& dir_;
  std::string state_dir_;
  std::string log_path_;
  int port_ = 0;
  int ctrl_port_ = 0;
  pid_t pid_ = -1;
  std::string attempts_;
};

}  // namespace edgetrust::test
