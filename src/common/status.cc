#include "edgetrust/status.h"

namespace edgetrust {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kInvalidArgument:
      return "invalid-argument";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kAlreadyExists:
      return "already-exists";
    case ErrorCode::kPermissionDenied:
      return "permission-denied";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kTampered:
      return "tampered";
    case ErrorCode::kVerifyFailed:
      return "verify-failed";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kTooLarge:
      return "too-large";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kResourceExhausted:
      return "resource-exhausted";
    case ErrorCode::kIoError:
      return "io-error";
    case ErrorCode::kFailedPrecondition:
      return "failed-precondition";
  }
  return "unknown-error";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(ErrorCodeName(code_)) + ": " + message_;
}

}  // namespace edgetrust
