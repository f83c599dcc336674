// The edgetrust OpenSSL 3 provider: its context and the pieces its operations share.
//
// One ProviderCtx per loaded provider instance. It holds a child library context (the parent's
// providers minus ourselves, by default property "provider!=edgetrust") in which every public
// operation runs in-process: parsing and encoding public keys, verifying, hashing. Private
// operations go to edgetrust-sd (sd_key.h). Immutable after init, so shared by all threads.
#pragma once

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <string>

#include "edgetrust/status.h"

namespace edgetrust::provider {

inline constexpr char kProviderName[] = "edgetrust";
// Property of every algorithm we offer, and the default query of our child context.
inline constexpr char kProperties[] = "provider=edgetrust";
inline constexpr char kNotUs[] = "provider!=edgetrust";

struct ProviderCtx {
  const OSSL_CORE_HANDLE* handle = nullptr;
  OSSL_LIB_CTX* libctx = nullptr;  // child context for public operations
  std::string socket;              // the "socket" config parameter; empty: the client's default
  OSSL_FUNC_core_new_error_fn* new_error = nullptr;
  OSSL_FUNC_core_set_error_debug_fn* set_error_debug = nullptr;
  OSSL_FUNC_core_vset_error_fn* vset_error = nullptr;
};

// Reason codes of our errors (their texts are the provider's reason strings).
enum Reason : int {
  kReasonDaemon = 1,        // the daemon refused or failed an operation
  kReasonBadUri = 2,        // a malformed edgetrust: URI or EDGETRUST KEY PEM
  kReasonUnsupported = 3,   // an algorithm, digest or parameter we cannot serve
  kReasonNoPrivateKey = 4,  // a private operation on a public-only key
  kReasonInternal = 5,
};

// Queues an OpenSSL error from this provider: "edgetrust: <detail>".
void RaiseError(const ProviderCtx* ctx, int reason, const std::string& detail);
// The same for a Status from the client library, keeping its code name in the text.
void RaiseStatus(const ProviderCtx* ctx, const Status& status);
// The last error this thread raised through the two functions above, as a Status (cleared by
// the call). OpenSSL's error queue keeps only text; our own callers (LoadKey) want the code.
Status TakeLastError();

// The provider's init function. The module (module.cc) exports it as OSSL_provider_init; code of
// ours adds it as a built-in (load_key.cc).
extern "C" int EdgetrustProviderInit(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                     const OSSL_DISPATCH** out, void** provctx);

// The algorithm tables of each operation (keymgmt.cc, signature.cc, store.cc, decoder.cc,
// encoder.cc).
extern const OSSL_ALGORITHM kKeymgmtAlgorithms[];
extern const OSSL_ALGORITHM kSignatureAlgorithms[];
extern const OSSL_ALGORITHM kStoreAlgorithms[];
extern const OSSL_ALGORITHM kDecoderAlgorithms[];
extern const OSSL_ALGORITHM kEncoderAlgorithms[];

}  // namespace edgetrust::provider
