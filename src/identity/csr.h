// Certificate signing requests (PKCS#10): making one for a secure-domain key, and reading one
// that came from elsewhere.
// Errors: kInvalidArgument for malformed input. Thread safety: free functions.
#pragma once

#include <openssl/types.h>

#include <string>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "identity/san.h"
#include "identity/subject.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

inline constexpr size_t kMaxCsrSize = 64 * 1024;

// A PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST", exactly one block) or DER request,
// with nothing after it. Does not verify its signature (csr_policy.h does).
Result<X509ReqPtr> ParseCsr(ByteView data);
// A request for `key` (whose private operations sign it) with `subject` and, when there are any,
// the SANs in an extensionRequest. Made in `libctx`.
Result<X509ReqPtr> BuildCsr(const Subject& subject, const std::vector<San>& sans, EVP_PKEY* key,
                            OSSL_LIB_CTX* libctx);
std::string CsrToPem(const X509_REQ* req);

}  // namespace edgetrust::identity
