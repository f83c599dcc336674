#include "sd/pkcs11/pkcs11_session_pool.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "sd/pkcs11/pkcs11_errors.h"

namespace edgetrust::sd::pkcs11 {
namespace {

std::string JoinLabels(const std::vector<std::string>& labels) {
  if (labels.empty()) return "none";
  std::string out;
  for (const auto& l : labels) {
    if (!out.empty()) out += ", ";
    out += '"' + l + '"';
  }
  return out;
}

}  // namespace

// --- Session ---------------------------------------------------------------------------------

Session::Session(SessionPool* pool, CK_SESSION_HANDLE handle, uint64_t generation)
    : pool_(pool), fn_(pool->module().fn()), handle_(handle), generation_(generation) {}

Session::Session(Session&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      fn_(other.fn_),
      handle_(other.handle_),
      generation_(other.generation_),
      lost_(other.lost_),
      stale_handle_(other.stale_handle_) {}

Session::~Session() {
  if (pool_ != nullptr) pool_->Return(handle_, generation_, lost_);
}

bool Session::TokenPresent() const { return pool_->TokenPresent(pool_->slot()); }

Status Session::Check(CK_RV rv, std::string_view function) {
  stale_handle_ = false;
  if (rv == CKR_OK) return Status::Ok();
  Status st = CkrStatus(function, rv);
  if (IsTokenLost(rv)) {
    lost_ = true;
    return Status(ErrorCode::kUnavailable, st.message() + " (token \"" + pool_->label() +
                                               "\" went away; the next request reconnects)");
  }
  if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID) {
    // SoftHSM2 reports a token whose folder vanished this way, not with CKR_DEVICE_REMOVED.
    if (!TokenPresent()) {
      lost_ = true;
      return Status(ErrorCode::kUnavailable,
                    st.message() + " (token \"" + pool_->label() + "\" is not present)");
    }
    stale_handle_ = true;
  }
  return st;
}

// --- SessionPool -----------------------------------------------------------------------------

Result<std::unique_ptr<SessionPool>> SessionPool::Open(std::shared_ptr<Module> module,
                                                       std::string label, SecretBytes pin,
                                                       size_t size) {
  std::unique_ptr<SessionPool> pool(
      new SessionPool(std::move(module), std::move(label), std::move(pin), size < 1 ? 1 : size));
  std::lock_guard lock(pool->mu_);
  ET_RETURN_IF_ERROR(pool->ConnectLocked(/*at_start=*/true));
  return pool;
}

SessionPool::~SessionPool() {
  std::lock_guard lock(mu_);
  CloseIdleLocked();
}

uint64_t SessionPool::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

CK_SLOT_ID SessionPool::slot() const {
  std::lock_guard lock(mu_);
  return slot_;
}

uint64_t SessionPool::recoveries() const {
  std::lock_guard lock(mu_);
  return recoveries_;
}

bool SessionPool::TokenPresent(CK_SLOT_ID slot) const {
  auto search = module_->FindToken(label_);
  return search.ok() && search->slot && *search->slot == slot;
}

Result<CK_SESSION_HANDLE> SessionPool::OpenSessionLocked() {
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = module_->fn()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                          nullptr, &h);
  if (rv != CKR_OK) return CkrStatus("C_OpenSession", rv);
  return h;
}

void SessionPool::CloseIdleLocked() {
  // Only our own sessions: C_CloseAllSessions would also close those of another pool on the same
  // token in this process (and log it out).
  for (CK_SESSION_HANDLE h : idle_) (void)module_->fn()->C_CloseSession(h);
  idle_.clear();
  open_ = 0;
}

Status SessionPool::ConnectLocked(bool at_start) {
  const uint64_t seen = module_->generation();
  auto search = module_->FindToken(label_);
  if (at_start) {
    if (!search.ok()) return search.status();
    if (!search->slot) {
      return Status(ErrorCode::kInvalidArgument,
                    "no PKCS#11 token labelled \"" + label_ + "\" in " + module_->path() +
                        " (tokens found: " + JoinLabels(search->labels) + ")");
    }
  } else if (!search.ok() || !search->slot) {
    // The token may have come back in a way the module only notices when initialised again.
    if (Status st = module_->Reinitialize(seen); !st.ok()) {
      return Status(ErrorCode::kUnavailable,
                    "reconnecting to token \"" + label_ + "\": " + st.message());
    }
    search = module_->FindToken(label_);
    if (!search.ok()) {
      return Status(ErrorCode::kUnavailable,
                    "reconnecting to token \"" + label_ + "\": " + search.status().message());
    }
    if (!search->slot) {
      return Status(ErrorCode::kUnavailable,
                    "token \"" + label_ +
                        "\" is not present (tokens found: " + JoinLabels(search->labels) + ")");
    }
  }
  slot_ = *search->slot;
  ET_ASSIGN_OR_RETURN(CK_SESSION_HANDLE h, OpenSessionLocked());
  CK_RV rv = module_->fn()->C_Login(h, CKU_USER, const_cast<CK_UTF8CHAR*>(pin_.data()),
                                    static_cast<CK_ULONG>(pin_.size()));
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    (void)module_->fn()->C_CloseSession(h);
    Status st = CkrStatus("C_Login", rv);
    if (!at_start && IsTokenLost(rv)) return Status(ErrorCode::kUnavailable, st.message());
    return st;
  }
  idle_.push_back(h);
  open_ = 1;
  ++generation_;
  return Status::Ok();
}

Result<Session> SessionPool::Borrow() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (lost_) {
      if (recovering_) {
        // Someone else is reconnecting: share its outcome rather than trying again at once
        // (each try may re-initialise the module).
        const uint64_t attempt = reconnect_attempts_;
        cv_.wait(lock, [&] { return !recovering_; });
        if (lost_ && reconnect_attempts_ != attempt) return last_reconnect_error_;
        continue;
      }
      recovering_ = true;
      // Sessions still out finish (and fail) first: nobody may be inside the module while it is
      // re-initialised.
      cv_.wait(lock, [this] { return in_use_ == 0; });
      CloseIdleLocked();
      Status st = ConnectLocked(/*at_start=*/false);
      recovering_ = false;
      ++reconnect_attempts_;
      last_reconnect_error_ = st;
      cv_.notify_all();
      if (!st.ok()) {
        spdlog::warn("event=pkcs11-reconnect-failed token=\"{}\" error=\"{}\"", label_,
                     st.message());
        return st;
      }
      lost_ = false;
      ++recoveries_;
      spdlog::info("event=pkcs11-reconnected token=\"{}\" slot={}", label_, slot_);
      continue;
    }
    if (!idle_.empty()) {
      CK_SESSION_HANDLE h = idle_.back();
      idle_.pop_back();
      ++in_use_;
      return Session(this, h, generation_);
    }
    if (open_ < size_) {
      auto h = OpenSessionLocked();
      if (!h.ok()) {
        // Only a lost token is worth a recovery; running out of sessions is not (wait instead,
        // if any session is out).
        if (h.status().code() == ErrorCode::kUnavailable) {
          lost_ = true;
          return h.status();
        }
        if (in_use_ == 0) return h.status();
        cv_.wait(lock);
        continue;
      }
      ++open_;
      ++in_use_;
      return Session(this, *h, generation_);
    }
    cv_.wait(lock);
  }
}

void SessionPool::Return(CK_SESSION_HANDLE handle, uint64_t generation, bool lost) {
  std::lock_guard lock(mu_);
  --in_use_;
  if (generation != generation_) {
    (void)module_->fn()->C_CloseSession(handle);  // from before a recovery: already invalid
  } else {
    if (lost && !lost_) {
      lost_ = true;
      spdlog::warn("event=pkcs11-token-lost token=\"{}\"", label_);
    }
    idle_.push_back(handle);
  }
  cv_.notify_all();
}

}  // namespace edgetrust::sd::pkcs11
