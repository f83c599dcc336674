// A PKCS#11 module (.so) loaded with dlopen and initialised for this process.
//
// One Module per path per process: Load() hands out the one already loaded, since a module can
// be initialised only once per process (CKR_CRYPTOKI_ALREADY_INITIALIZED) and its login state
// belongs to the process, not to a session. C_Initialize runs with CKF_OS_LOCKING_OK, so the
// module may be called from any number of threads. The module stays mapped until the process
// exits (modules such as SoftHSM2 keep OpenSSL state and atexit handlers that do not survive
// dlclose); the last owner's destructor calls C_Finalize.
//
// Thread safety: every method may be called concurrently. Reinitialize() must not race with
// calls into the module on other threads; the session pool only calls it once its own sessions
// are all returned (docs/pkcs11.md, "Recovery").
#pragma once

#include <p11-kit/pkcs11.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::sd::pkcs11 {

class Module {
 public:
  // kInvalidArgument naming the path and dlerror() when the module cannot be loaded or is not a
  // PKCS#11 module; the CKR_ code of C_GetFunctionList or C_Initialize otherwise.
  static Result<std::shared_ptr<Module>> Load(const std::string& path);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }
  // "<manufacturer> <library description> <version>" from C_GetInfo.
  const std::string& description() const { return description_; }

  struct SlotSearch {
    std::optional<CK_SLOT_ID> slot;   // the slot whose token has the label
    std::vector<std::string> labels;  // labels of every token present, for error messages
  };
  // Looks for a present token labelled `label` (C_GetSlotList(CK_TRUE), C_GetTokenInfo). An error
  // only when C_GetSlotList fails.
  Result<SlotSearch> FindToken(const std::string& label) const;

  // Counts C_Initialize calls; a caller that saw `seen` asks for a re-initialisation, which runs
  // only if nobody did one since (several pools may ask at once).
  uint64_t generation() const { return generation_.load(); }
  // C_Finalize then C_Initialize: the only way to make SoftHSM2 (and some others) see a token that
  // came back. Invalidates every session and the login.
  Status Reinitialize(uint64_t seen);

 private:
  Module() = default;
  Status Initialize();
  void Finalize();

  std::string path_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
  std::string description_;
  std::mutex mu_;  // serialises Initialize/Finalize
  bool initialized_ = false;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace edgetrust::sd::pkcs11
