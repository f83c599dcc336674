// Errors as values for the whole EdgeTrust C++ API.
//
// Every fallible function returns a Status or a Result<T>; both are [[nodiscard]]. No exception
// crosses a library boundary. Each ErrorCode maps one-to-one onto a wire status code of the
// secure-domain protocol (docs/protocol.md) and onto the C ABI's ET_E_* codes, so an error keeps
// its meaning from the daemon to the caller.
//
// Thread safety: Status and Result are plain values; copies are independent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace edgetrust {

// Values are part of the wire protocol and the C ABI: never renumber, only append.
enum class ErrorCode : uint32_t {
  kOk = 0,
  kInvalidArgument = 1,      // the request is well-formed but a value is wrong
  kNotFound = 2,             // no such key (or not visible to this caller)
  kAlreadyExists = 3,        // a key of that name exists
  kPermissionDenied = 4,     // the caller's principal may not do this
  kUnsupported = 5,          // the key type or backend cannot do this operation
  kTampered = 6,             // a stored object failed authentication: flipped, swapped or renamed
  kVerifyFailed = 7,         // a signature, MAC or AEAD tag did not verify
  kMalformed = 8,            // a frame or body could not be decoded
  kTooLarge = 9,             // a frame or a field exceeds its limit
  kInternal = 10,            // a bug or an unexpected library failure
  kUnavailable = 11,         // the daemon cannot be reached or went away
  kResourceExhausted = 12,   // too many connections, keys or requests
  kIoError = 13,             // the state folder could not be read or written
  kFailedPrecondition = 14,  // the secure domain's state forbids it now (e.g. registers changed)
};

// Stable lower-case name of a code, e.g. "not-found".
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code-name: message", for logs and CLI errors.
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A value or an error. Accessing value() of an error is a programming error (it aborts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status(ErrorCode::kInternal, "OK status used as an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & {
    Check();
    return std::get<T>(v_);
  }
  const T& value() const& {
    Check();
    return std::get<T>(v_);
  }
  T&& value() && {
    Check();
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void Check() const {
    if (!ok()) __builtin_trap();
  }
  std::variant<T, Status> v_;
};

}  // namespace edgetrust

// Propagate an error Status from an expression returning Status.
#define ET_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::edgetrust::Status et_status_ = (expr); \
    if (!et_status_.ok()) return et_status_; \
  } while (0)

#define ET_CONCAT_INNER_(a, b) a##b
#define ET_CONCAT_(a, b) ET_CONCAT_INNER_(a, b)
// Bind the value of a Result<T> expression to `lhs`, or return its error.
#define ET_ASSIGN_OR_RETURN(lhs, expr) \
  ET_ASSIGN_OR_RETURN_IMPL_(ET_CONCAT_(et_result_, __LINE__), lhs, expr)
#define ET_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
