// A pool of PKCS#11 sessions on one token, logged in as the user, that recovers from a token that
// went away.
//
// Every operation borrows a session (Borrow) for its duration and gives it back when the Session
// is destroyed, so concurrent clients run on different sessions instead of queueing on one (the
// lesson of libp11, whose single shared session capped RSA throughput at a third). Sessions are
// opened on demand up to the pool's size; a borrower waits when all are in use.
//
// Login: C_Login(CKU_USER) once, on the first session; the login belongs to the application and
// covers every session (CKR_USER_ALREADY_LOGGED_IN is accepted).
//
// Recovery: a call whose return code says the token, the session or the module is gone
// (IsTokenLost), or that finds an object handle invalid while the token is no longer present,
// marks the pool lost. The next Borrow waits for the sessions still out, closes them all, finds
// the token again by its label (re-initialising the module if the token is not there: SoftHSM2
// only sees a token that came back after C_Finalize/C_Initialize), opens a session and logs in
// again; until that works every Borrow fails with kUnavailable. generation() changes with every
// recovery: object handles found before it are stale.
//
// Thread safety: every method may be called concurrently. A thread holds at most one Session at
// a time (a second Borrow while holding one could wait forever).
#pragma once

#include <p11-kit/pkcs11.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "sd/pkcs11/pkcs11_module.h"

namespace edgetrust::sd::pkcs11 {

class SessionPool;

// A borrowed session. Check() turns return codes into Status and notes a lost token, which the
// pool acts on when the session comes back.
class Session {
 public:
  Session(Session&& other) noexcept;
  Session& operator=(Session&&) = delete;
  Session(const Session&) = delete;
  ~Session();

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_FUNCTION_LIST* fn() const { return fn_; }
  // The pool generation this session belongs to (object handles are valid within one).
  uint64_t generation() const { return generation_; }

  // Ok for CKR_OK; otherwise "function: CKR_..." (pkcs11_errors.h). A code that says the token
  // is gone, or an invalid object handle while the token is no longer present, marks the pool
  // lost and gives kUnavailable.
  Status Check(CK_RV rv, std::string_view function);
  // True when the last failure was an invalid object or key handle with the token still present:
  // the handle is stale (the object was deleted or the token re-initialised), worth one retry
  // with a fresh lookup.
  bool stale_handle() const { return stale_handle_; }
  // Asks the token whether it is still there (C_GetTokenInfo on the slot and the label).
  bool TokenPresent() const;
  // Marks the pool lost: for callers that learnt it otherwise (an object search that found
  // nothing because the token is gone).
  void MarkLost() { lost_ = true; }

 private:
  friend class SessionPool;
  Session(SessionPool* pool, CK_SESSION_HANDLE handle, uint64_t generation);

  SessionPool* pool_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
  uint64_t generation_ = 0;
  bool lost_ = false;
  bool stale_handle_ = false;
};

class SessionPool {
 public:
  // Finds the token by label, opens a session and logs in. kInvalidArgument listing the labels
  // found when no token has `label`; kPermissionDenied ("C_Login: CKR_PIN_INCORRECT") for a
  // wrong PIN.
  static Result<std::unique_ptr<SessionPool>> Open(std::shared_ptr<Module> module,
                                                   std::string label, SecretBytes pin, size_t size);
  ~SessionPool();
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  // A session, recovering the pool first if it was lost. kUnavailable while the token is gone.
  Result<Session> Borrow();

  uint64_t generation() const;
  CK_SLOT_ID slot() const;
  const std::string& label() const { return label_; }
  Module& module() const { return *module_; }
  size_t size() const { return size_; }
  // How many times the pool recovered from a lost token, for logs and tests.
  uint64_t recoveries() const;

 private:
  friend class Session;
  SessionPool(std::shared_ptr<Module> module, std::string label, SecretBytes pin, size_t size)
      : module_(std::move(module)), label_(std::move(label)), pin_(std::move(pin)), size_(size) {}

  // Finds the slot, opens the first session and logs in; called with mu_ held and no session out.
  Status ConnectLocked(bool at_start);
  Result<CK_SESSION_HANDLE> OpenSessionLocked();
  void CloseIdleLocked();
  void Return(CK_SESSION_HANDLE handle, uint64_t generation, bool lost);
  bool TokenPresent(CK_SLOT_ID slot) const;

  const std::shared_ptr<Module> module_;
  const std::string label_;
  const SecretBytes pin_;
  const size_t size_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  CK_SLOT_ID slot_ = 0;
  uint64_t generation_ = 0;
  bool lost_ = false;
  bool recovering_ = false;
  size_t open_ = 0;    // sessions of this generation, idle or in use
  size_t in_use_ = 0;  // sessions borrowed (of any generation)
  std::vector<CK_SESSION_HANDLE> idle_;
  uint64_t recoveries_ = 0;
  uint64_t reconnect_attempts_ = 0;
  Status last_reconnect_error_;
};

}  // namespace edgetrust::sd::pkcs11
