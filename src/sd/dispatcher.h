// Turns one decoded request from one identified caller into one answer.
//
// Authorisation lives here and only here: a key reference without an owner is the caller's own;
// one with another owner needs a grant for the operation (or an admin caller), and is refused with
// kPermissionDenied before the backend is asked anything, so a refusal says nothing about whether
// the key exists. New keys (create, derive, ecdh) always go to the caller's own namespace.
// Counters follow the same namespaces (other owners: admins only); sealing is always to the
// caller's own principal; who may extend which measurement register is policy.
//
// The dispatcher also owns the secure domain's measurement registers and its attester, which
// live exactly as long as the daemon (registers start at zero, like PCRs after a reset).
//
// Thread safety: Handle() may be called concurrently; the policy is immutable.
#pragma once

#include <memory>

#include "protocol/message.h"
#include "sd/attester.h"
#include "sd/backend.h"
#include "sd/policy.h"
#include "sd/principal.h"
#include "sd/registers.h"

namespace edgetrust::sd {

class Dispatcher {
 public:
  Dispatcher(Backend& backend, Policy policy)
      : backend_(backend),
        policy_(std::move(policy)),
        registers_([&backend](uint32_t index, const Digest256& digest) {
          return backend.MirrorExtend(index, digest);
        }),
        attester_(backend, registers_) {}

  // The principal name of the daemon's own measurement events.
  static constexpr std::string_view kSelfPrincipal = "edgetrust-sd";
  // For the daemon itself (main.cc measures its configuration into register 0).
  RegisterBank& registers() { return registers_; }

  Result<protocol::Message> Handle(const Peer& peer, protocol::Opcode op,
                                   const protocol::Message& request);

 private:
  // The key a request names, after checking the caller may use it for `op`.
  Result<KeyId> Authorize(const Peer& peer, protocol::Opcode op,
                          const protocol::Message& request) const;
  Result<protocol::Message> Info(const Peer& peer);
  Result<KeyId> CounterId(const Peer& peer, const protocol::Message& request) const;
  Result<protocol::Message> Seal(const Peer& peer, const protocol::Message& request);
  Result<protocol::Message> Unseal(const Peer& peer, const protocol::Message& request);
  Result<protocol::Message> Extend(const Peer& peer, const protocol::Message& request);
  Result<protocol::Message> ReadLog(const protocol::Message& request) const;

  Backend& backend_;
  const Policy policy_;
  RegisterBank registers_;
  Attester attester_;
};

}  // namespace edgetrust::sd
