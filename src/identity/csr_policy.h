// The policy step between a certificate signing request from elsewhere and the certificate the
// local CA issues for it (`edgetrust cert issue`): what is taken from the request, what is
// checked, and what is never copied.
//
// Taken: the subject (checked like a command-line subject), the public key (a certifiable type,
// checked before anything else is done with it), and the subjectAltName of the request's
// extensionRequest (DNS, IP, URI and email only). Checked: the request's own signature, which
// proves its sender holds the private key. Never copied: any other requested extension — in
// particular basicConstraints and keyUsage, which the profile decides (a request asking for
// CA:TRUE gets a leaf certificate); their OIDs are reported as ignored.
// Errors: kInvalidArgument / kTooLarge for malformed requests, kVerifyFailed for a bad
// signature, kUnsupported for an unacceptable key. Thread safety: free functions.
#pragma once

#include <string>
#include <vector>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "identity/profile.h"
#include "identity/san.h"
#include "identity/subject.h"

namespace edgetrust::identity {

struct CsrRequest {
  Profile profile = Profile::kClient;  // a leaf profile; kCa is refused
  std::vector<San> extra_sans;         // --san on the command line, added to the request's
};

struct CsrPlan {
  Subject subject;
  std::vector<San> sans;  // the request's, then the extra ones, without duplicates
  EvpPkeyPtr public_key;
  std::vector<std::string> ignored_extensions;  // dotted OIDs or short names
};

Result<CsrPlan> PlanFromCsr(ByteView csr, const CsrRequest& request);

}  // namespace edgetrust::identity
