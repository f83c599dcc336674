// SoftHSM2 as the secure-domain benchmark's peer: the software PKCS#11 token people reach for when
// they have no HSM, driven in-process through its PKCS#11 API, the way an application links it.
//
// Create() loads the module with dlopen, points SOFTHSM2_CONF at a generated configuration whose
// token folder is a fresh temporary directory, initialises a token there (C_InitToken), logs in
// and generates one key per operation as persistent token objects (as edgetrust-sd's keys are
// persistent): P-256, Ed25519 (when the module has CKM_EC_EDWARDS_KEY_PAIR_GEN), a 32-byte generic
// secret for HMAC-SHA256 and an AES-256 key. The destructor finalises the module, removes the
// folder and restores SOFTHSM2_CONF.
//
// Thread safety: the module is initialised with CKF_OS_LOCKING_OK; each client thread opens its
// own Session and uses only that one.
#pragma once

#include <memory>
#include <string>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::bench {

class SoftHsmPeer {
 public:
  enum class Op {
    kEcdsaP256Sign,    // SHA-256 in the caller, then CKM_ECDSA on the digest (the module has
                       // no CKM_ECDSA_SHA256)
    kEd25519Sign,      // CKM_EDDSA on the message
    kHmacSha256,       // CKM_SHA256_HMAC
    kAes256GcmEncrypt  // CKM_AES_GCM, a fresh 96-bit nonce from the caller, 128-bit tag
  };

  static constexpr const char* kDefaultModule = "/usr/lib/softhsm/libsofthsm2.so";

  // kUnavailable if the module cannot be loaded; kInternal naming the PKCS#11 call that failed.
  static Result<std::unique_ptr<SoftHsmPeer>> Create(const std::string& module = kDefaultModule);
  ~SoftHsmPeer();
  SoftHsmPeer(const SoftHsmPeer&) = delete;
  SoftHsmPeer& operator=(const SoftHsmPeer&) = delete;

  // False for an operation whose key this module could not generate (e.g. no Ed25519).
  bool Supports(Op op) const;
  // "SoftHSM 2.6": the library's manufacturer and version from C_GetInfo.
  const std::string& description() const;

  // One PKCS#11 session, logged in (the login is the token's, shared by its sessions).
  class Session {
   public:
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    // Performs `op` once on `data`; the output is dropped.
    Status Run(Op op, ByteView data);

   private:
    friend class SoftHsmPeer;
    struct State;
    explicit Session(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
  };
  Result<std::unique_ptr<Session>> OpenSession();

  struct Impl;

 private:
  explicit SoftHsmPeer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgetrust::bench
