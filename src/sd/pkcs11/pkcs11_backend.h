// The `pkcs11` backend: any PKCS#11 token (an HSM, a secure element, SoftHSM2) behind the secure
// domain's Backend interface (docs/pkcs11.md).
//
// Keys are generated on the token, sensitive and not extractable; signing, AEAD, MAC and ECDH run
// on the token through a pool of sessions. What the token cannot do (counters, registers) the
// daemon provides on top, sealed with a token key, and Features() says which is which.
#pragma once

#include <memory>
#include <string>

#include "edgetrust/status.h"
#include "sd/backend.h"
#include "sd/state_dir.h"

namespace edgetrust::sd {

struct Pkcs11Options {
  std::string module;       // path of the PKCS#11 module (.so)
  std::string token_label;  // CKA_LABEL of the token to use
  std::string pin_file;     // file holding the user PIN (first line)
};

// Errors name the PKCS#11 return code (e.g. "C_Login: CKR_PIN_INCORRECT"): kInvalidArgument for a
// missing module or token, kPermissionDenied for a wrong PIN, kUnavailable for a removed token.
Result<std::unique_ptr<Backend>> CreatePkcs11Backend(const StateDir& state,
                                                     const Pkcs11Options& options);

}  // namespace edgetrust::sd
