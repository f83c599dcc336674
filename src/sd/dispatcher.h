// Turns one decoded request from one identified caller into one answer.
//
// Authorisation lives here and only here: a key reference without an owner is the caller's own;
// one with another owner needs a grant for the operation (or an admin caller), and is refused with
// kPermissionDenied before the backend is asked anything, so a refusal says nothing about whether
// the key exists. New keys (create, derive, ecdh) always go to the caller's own namespace.
//
// Thread safety: Handle() may be called concurrently; the policy is immutable.
#pragma once

#include <memory>

#include "protocol/message.h"
#include "sd/backend.h"
#include "sd/policy.h"
#include "sd/principal.h"

namespace edgetrust::sd {

class Dispatcher {
 public:
  Dispatcher(Backend& backend, Policy policy) : backend_(backend), policy_(std::move(policy)) {}

  Result<protocol::Message> Handle(const Peer& peer, protocol::Opcode op,
                                   const protocol::Message& request);

 private:
  // The key a request names, after checking the caller may use it for `op`.
  Result<KeyId> Authorize(const Peer& peer, protocol::Opcode op,
                          const protocol::Message& request) const;
  Result<protocol::Message> Info(const Peer& peer);

  Backend& backend_;
  const Policy policy_;
};

}  // namespace edgetrust::sd
