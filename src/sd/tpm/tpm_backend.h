// The `tpm` backend: a TPM 2.0 behind the secure domain's Backend interface (docs/tpm.md).
//
// Keys are generated inside the TPM under a storage root key and kept as wrapped blobs in the
// state folder, loaded on demand; the registers are mirrored into a PCR the boot chain does not
// own; evidence carries a TPM2 quote by a restricted attestation key; sealing, counters (NV) and
// random numbers come from the TPM. The TPM is reached through a tpm2-tss TCTI.
#pragma once

#include <memory>
#include <string>

#include "edgetrust/status.h"
#include "sd/backend.h"
#include "sd/state_dir.h"

namespace edgetrust::sd {

struct TpmOptions {
  // A tpm2-tss TCTI configuration: "swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0", ...
  std::string tcti = "device:/dev/tpmrm0";
};

// kUnavailable (naming the TCTI) when the TPM cannot be reached; kTampered for stored objects of
// another TPM or altered ones.
Result<std::unique_ptr<Backend>> CreateTpmBackend(const StateDir& state, const TpmOptions& options);

}  // namespace edgetrust::sd
