#include "sd/tpm/tpm_context.h"

#include <tss2/tss2_rc.h>

#include <cstdio>
#include <cstdlib>

#include "sd/tpm/tpm_templates.h"

namespace edgetrust::sd::tpm {

std::string RcText(TSS2_RC rc) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", rc);
  const char* text = Tss2_RC_Decode(rc);
  return std::string(hex) + " (" + (text != nullptr ? text : "?") + ")";
}

TSS2_RC TpmBaseRc(TSS2_RC rc) {
  const TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER) return 0;
  rc &= 0xFFFF;
  if ((rc & TPM2_RC_FMT1) != 0) return rc & (TPM2_RC_FMT1 | 0x3F);
  return rc;
}

bool IsTransportError(TSS2_RC rc) {
  const TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  const TSS2_RC base = rc & 0xFFFF;
  if (layer == TSS2_TCTI_RC_LAYER) return true;
  if (layer == TSS2_ESAPI_RC_LAYER || layer == TSS2_SYS_RC_LAYER) {
    return base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION ||
           base == TSS2_BASE_RC_TRY_AGAIN || base == TSS2_BASE_RC_MALFORMED_RESPONSE ||
           base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE || base == TSS2_BASE_RC_BAD_SEQUENCE ||
           base == TSS2_BASE_RC_BAD_TCTI_STRUCTURE;
  }
  return false;
}

bool IsRestartError(TSS2_RC rc) {
  const TSS2_RC base = TpmBaseRc(rc);
  // TPM_RC_REFERENCE_H0..H6 and _S0..S6: a handle names nothing loaded. The backend keeps no
  // handle across sessions but the SRK's, so this means the TPM lost its transient objects.
  // TPM_RC_INITIALIZE: the TPM was reset and waits for TPM2_Startup.
  return (base >= TPM2_RC_REFERENCE_H0 && base <= TPM2_RC_REFERENCE_S6) ||
         base == TPM2_RC_INITIALIZE;
}

// --- Session

ESYS_CONTEXT* Session::esys() const { return ctx_->esys_; }
ESYS_TR Session::srk() const { return ctx_->srk_; }
bool Session::broken() const { return ctx_->broken_; }

Status Session::Check(TSS2_RC rc, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  switch (TpmBaseRc(rc)) {
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
    case TPM2_RC_NV_SPACE:
    case TPM2_RC_MEMORY:
    case TPM2_RC_OBJECT_HANDLES:
    case TPM2_RC_SESSION_HANDLES:
      code = ErrorCode::kResourceExhausted;
      break;
    case TPM2_RC_INTEGRITY:
      code = ErrorCode::kTampered;
      break;
    default:
      break;
  }
  return CheckAs(rc, what, code);
}

Status Session::CheckAs(TSS2_RC rc, std::string_view what, ErrorCode tpm_error) {
  if (rc == TSS2_RC_SUCCESS) return Status::Ok();
  if (IsTransportError(rc)) {
    ctx_->broken_ = true;
    return ctx_->Unreachable(what, rc);
  }
  if (IsRestartError(rc)) {
    // The TPM restarted behind a connection that survived it (a TCTI that connects anew,
    // as swtpm's does after the simulator restarted): the SRK and the PCR mirror are gone.
    // Reconnecting restores both.
    ctx_->broken_ = true;
    return Status(ErrorCode::kUnavailable, "the TPM at " + ctx_->tcti_ +
                                               " restarted and lost its loaded objects (" +
                                               std::string(what) + ": " + RcText(rc) + ")");
  }
  return Status(tpm_error, std::string(what) + " failed: " + RcText(rc));
}

// --- TpmContext

Result<std::unique_ptr<TpmContext>> TpmContext::Open(std::string tcti) {
  // tpm2-tss logs its own errors to stderr, which is the daemon's log; our errors carry the
  // decoded response code instead. An operator's TSS2_LOG setting wins.
  ::setenv("TSS2_LOG", "all+none", /*overwrite=*/0);
  std::unique_ptr<TpmContext> ctx(new TpmContext(std::move(tcti)));
  std::lock_guard lock(ctx->mu_);
  ET_RETURN_IF_ERROR(ctx->ConnectLocked());
  return ctx;
}

TpmContext::~TpmContext() {
  std::lock_guard lock(mu_);
  TeardownLocked();
}

Status TpmContext::Unreachable(std::string_view what, TSS2_RC rc) const {
  return Status(ErrorCode::kUnavailable, "the TPM at " + tcti_ + " cannot be reached (" +
                                             std::string(what) + ": " + RcText(rc) + ")");
}

void TpmContext::TeardownLocked() {
  if (esys_ != nullptr) {
    // Flushing the SRK only works while the TPM answers; a TPM that went away lost it anyway.
    if (srk_ != ESYS_TR_NONE && !broken_) Esys_FlushContext(esys_, srk_);
    Esys_Finalize(&esys_);
    esys_ = nullptr;
  }
  srk_ = ESYS_TR_NONE;
  if (tcti_ctx_ != nullptr) {
    Tss2_TctiLdr_Finalize(&tcti_ctx_);
    tcti_ctx_ = nullptr;
  }
}

Status TpmContext::ConnectLocked() {
  TeardownLocked();
  broken_ = true;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti_.c_str(), &tcti_ctx_);
  if (rc != TSS2_RC_SUCCESS) {
    tcti_ctx_ = nullptr;
    return Unreachable("opening the TCTI", rc);
  }
  rc = Esys_Initialize(&esys_, tcti_ctx_, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    esys_ = nullptr;
    TeardownLocked();
    return Unreachable("Esys_Initialize", rc);
  }
  // A TPM that was just powered on needs TPM2_Startup; one that runs already answers
  // TPM_RC_INITIALIZE, and a resource manager may refuse the command: both are fine.
  rc = Esys_Startup(esys_, TPM2_SU_CLEAR);
  if (rc != TSS2_RC_SUCCESS && IsTransportError(rc)) {
    TeardownLocked();
    return Unreachable("TPM2_Startup", rc);
  }
  // The storage root key: a primary key of the owner hierarchy from the standard template, the
  // same key every time for the same owner seed (docs/tpm.md, "Key hierarchy").
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in_public = SrkTemplate();
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  TPM2B_PUBLIC* out_public = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  rc = Esys_CreatePrimary(esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                          &sensitive, &in_public, &outside, &pcrs, &srk_, &out_public,
                          &creation_data, &creation_hash, &ticket);
  Esys_Free(out_public);
  Esys_Free(creation_data);
  Esys_Free(creation_hash);
  Esys_Free(ticket);
  if (rc != TSS2_RC_SUCCESS) {
    srk_ = ESYS_TR_NONE;
    const bool transport = IsTransportError(rc);
    TeardownLocked();
    if (transport) return Unreachable("creating the storage root key", rc);
    return Status(ErrorCode::kUnavailable,
                  "the TPM at " + tcti_ + " refused to create the storage root key: " + RcText(rc));
  }
  broken_ = false;
  const bool first = !connected_once_;
  if (!first) ++reconnects_;
  connected_once_ = true;
  if (hook_) {
    Session session(this, std::unique_lock<std::mutex>());
    Status st = hook_(session, first);
    if (!st.ok() && st.code() == ErrorCode::kUnavailable) {
      broken_ = true;
      return st;
    }
  }
  return Status::Ok();
}

Status TpmContext::SetConnectHook(ConnectHook hook) {
  std::unique_lock lock(mu_);
  hook_ = std::move(hook);
  if (broken_) return ConnectLocked();  // runs the hook
  Session session(this, std::unique_lock<std::mutex>());
  return hook_(session, /*first=*/true);
}

Result<Session> TpmContext::Acquire() {
  std::unique_lock lock(mu_);
  if (broken_) ET_RETURN_IF_ERROR(ConnectLocked());
  return Session(this, std::move(lock));
}

uint64_t TpmContext::reconnects() const {
  std::lock_guard lock(mu_);
  return reconnects_;
}

// --- Transient

Transient& Transient::operator=(Transient&& o) noexcept {
  if (this != &o) {
    Flush();
    esys_ = o.esys_;
    handle_ = o.handle_;
    o.handle_ = ESYS_TR_NONE;
  }
  return *this;
}

void Transient::Flush() {
  if (handle_ != ESYS_TR_NONE && esys_ != nullptr) {
    // A failure (the TPM went away) leaves nothing to flush; ESYS forgets the handle either way
    // when the context is finalised.
    Esys_FlushContext(esys_, handle_);
  }
  handle_ = ESYS_TR_NONE;
}

}  // namespace edgetrust::sd::tpm
