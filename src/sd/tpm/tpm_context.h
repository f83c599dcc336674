// The connection to the TPM: one tpm2-tss ESYS context over one TCTI, the storage root key, and
// the lock that serialises every TPM command (an ESYS_CONTEXT is not thread-safe).
//
// A caller takes a Session (Acquire), which holds the lock for its lifetime and guarantees a live
// connection with the SRK loaded. A transport failure seen through Session::Check marks the
// connection broken and answers kUnavailable naming the TCTI; the next Acquire tears the old
// context down and connects again (new TCTI, new ESYS context, Startup, SRK re-created), then runs
// the connect hook (the backend replays its PCR mirror there). So the backend heals by itself
// when a TPM that went away comes back. docs/tpm.md, "Reconnection".
//
// Thread safety: all methods may be called from any thread; sessions exclude each other.
#pragma once

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::sd::tpm {

// Memory that ESYS allocated for an output parameter.
struct EsysDeleter {
  void operator()(void* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysDeleter>;

// "0x0000018b (tpm:handle(1):the handle is not correct for the use)".
std::string RcText(TSS2_RC rc);
// The TPM response code without its parameter/handle/session number and layer, so it compares
// with TPM2_RC_* constants (0 when the error is not the TPM's).
TSS2_RC TpmBaseRc(TSS2_RC rc);
// Whether rc means the TPM could not be reached (TCTI failures, broken or short responses).
bool IsTransportError(TSS2_RC rc);
// Whether rc means the TPM restarted since the connection was made (its loaded objects are gone).
bool IsRestartError(TSS2_RC rc);

class TpmContext;

class Session {
 public:
  Session(Session&&) = default;
  Session& operator=(Session&&) = default;
  ~Session() = default;

  ESYS_CONTEXT* esys() const;
  ESYS_TR srk() const;
  // Ok for rc == 0. A transport error, or one that shows the TPM restarted (IsRestartError),
  // marks the connection broken and gives kUnavailable; TPM
  // errors map to kResourceExhausted (object, session or NV memory full), kTampered (integrity of
  // a blob), else kInternal. `what` names the command ("TPM2_Sign").
  Status Check(TSS2_RC rc, std::string_view what);
  // The same mapping, with the caller's code for TPM (not transport) errors.
  Status CheckAs(TSS2_RC rc, std::string_view what, ErrorCode tpm_error);
  TpmContext& context() const { return *ctx_; }
  // Whether a transport error broke the connection during this session.
  bool broken() const;

 private:
  friend class TpmContext;
  Session(TpmContext* ctx, std::unique_lock<std::mutex> lock) : ctx_(ctx), lock_(std::move(lock)) {}
  TpmContext* ctx_;
  std::unique_lock<std::mutex> lock_;
};

class TpmContext {
 public:
  // Run with the lock held after every successful connection, the first included. An error that
  // is kUnavailable fails the connection; other errors are the hook's to report.
  using ConnectHook = std::function<Status(Session&, bool first)>;

  // Connects (kUnavailable naming the TCTI when the TPM cannot be reached).
  static Result<std::unique_ptr<TpmContext>> Open(std::string tcti);
  ~TpmContext();
  TpmContext(const TpmContext&) = delete;
  TpmContext& operator=(const TpmContext&) = delete;

  // Installs the hook and runs it once now, on the live connection.
  Status SetConnectHook(ConnectHook hook);
  // Locks, and connects again if the connection broke.
  Result<Session> Acquire();
  // Runs fn(Session&) -> Status or Result<T>. When the connection breaks during fn (a TPM that
  // restarted since the last command: the old socket is dead), reconnects and runs fn once more.
  // Only for operations that may run twice: nothing in the TPM outlives them, or a second run is
  // harmless (a PCR extension whose first answer was lost is undone by the mirror replay on
  // reconnection). Not for NV increments or definitions.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<Session&>())) {
    for (int attempt = 0;; ++attempt) {
      auto session = Acquire();
      if (!session.ok()) return session.status();
      auto result = fn(*session);
      if (result.ok() || attempt > 0 || !session->broken()) return result;
    }
  }
  const std::string& tcti() const { return tcti_; }
  // How many times the connection was re-established after a failure.
  uint64_t reconnects() const;

 private:
  friend class Session;
  explicit TpmContext(std::string tcti) : tcti_(std::move(tcti)) {}
  Status ConnectLocked();
  void TeardownLocked();
  Status Unreachable(std::string_view what, TSS2_RC rc) const;

  const std::string tcti_;
  mutable std::mutex mu_;
  TSS2_TCTI_CONTEXT* tcti_ctx_ = nullptr;
  ESYS_CONTEXT* esys_ = nullptr;
  ESYS_TR srk_ = ESYS_TR_NONE;
  bool broken_ = true;
  bool connected_once_ = false;
  uint64_t reconnects_ = 0;
  ConnectHook hook_;
};

// A transient object (loaded key, sequence) flushed when this goes out of scope. Must not outlive
// the Session it was created in.
class Transient {
 public:
  Transient() = default;
  Transient(ESYS_CONTEXT* esys, ESYS_TR handle) : esys_(esys), handle_(handle) {}
  Transient(Transient&& o) noexcept : esys_(o.esys_), handle_(o.handle_) {
    o.handle_ = ESYS_TR_NONE;
  }
  Transient& operator=(Transient&& o) noexcept;
  Transient(const Transient&) = delete;
  Transient& operator=(const Transient&) = delete;
  ~Transient() { Flush(); }
  ESYS_TR get() const { return handle_; }
  // The TPM flushed it itself (a completed sequence): forget without flushing.
  void Release() { handle_ = ESYS_TR_NONE; }
  void Flush();

 private:
  ESYS_CONTEXT* esys_ = nullptr;
  ESYS_TR handle_ = ESYS_TR_NONE;
};

// An ESYS_TR for an NV index (closed, never flushed, when this goes out of scope).
class NvRef {
 public:
  NvRef(ESYS_CONTEXT* esys, ESYS_TR handle) : esys_(esys), handle_(handle) {}
  NvRef(NvRef&& o) noexcept : esys_(o.esys_), handle_(o.handle_) { o.handle_ = ESYS_TR_NONE; }
  NvRef(const NvRef&) = delete;
  NvRef& operator=(const NvRef&) = delete;
  NvRef& operator=(NvRef&&) = delete;
  ~NvRef() {
    if (handle_ != ESYS_TR_NONE) Esys_TR_Close(esys_, &handle_);
  }
  ESYS_TR get() const { return handle_; }

 private:
  ESYS_CONTEXT* esys_;
  ESYS_TR handle_;
};

}  // namespace edgetrust::sd::tpm
