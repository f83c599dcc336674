// PKCS#11 return codes as the secure domain's errors.
//
// Every failing call becomes a Status whose message names the function and the CKR_ code, e.g.
// "C_Login: CKR_PIN_INCORRECT", and whose ErrorCode says what a caller can do about it:
//   kPermissionDenied  the PIN is wrong, locked or expired
//   kUnavailable       the token, its session or the module went away (IsTokenLost): the session
//                      pool re-opens everything on the next call
//   kUnsupported       the token lacks the mechanism or refuses it for this key
//   kInvalidArgument   the token refused the data (length, range)
//   kVerifyFailed      a signature did not verify
//   kResourceExhausted the token or the host ran out of memory or sessions
//   kInternal          anything else
// Thread safety: pure functions.
#pragma once

#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::sd::pkcs11 {

// "CKR_PIN_INCORRECT"; "CKR_VENDOR_DEFINED+0x.." or "CKR_0x..." for codes the table lacks.
std::string CkrName(CK_RV rv);

// True for codes that mean the token, the slot, the session or the module itself is gone, so that
// every session must be re-opened (and the user logged in again).
bool IsTokenLost(CK_RV rv);

ErrorCode CkrErrorCode(CK_RV rv);

// "function: CKR_NAME" with CkrErrorCode(rv); `rv` must not be CKR_OK.
Status CkrStatus(std::string_view function, CK_RV rv);

// PKCS#11 strings in info structures are fixed-width and blank-padded.
std::string Trimmed(const CK_UTF8CHAR* text, size_t size);

}  // namespace edgetrust::sd::pkcs11
