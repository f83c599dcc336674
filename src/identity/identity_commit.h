// Making a newly issued certificate the current one of a tracked identity: the one sequence that
// provisioning, import and renewal all end with.
//
//   1. remove leftovers of interrupted runs (CertStore::CleanUncommitted);
//   2. write gen-N+1 completely and fsync it (CertStore::WriteGeneration);
//   3. switch `current` to it atomically (CertStore::SwitchCurrent);
//   4. prune: keep the new and the previous generation (a server that loaded the previous one
//      keeps working until it reloads), delete older generations and the secure-domain keys only
//      they used.
//
// Pruning deletes an old generation's key before its folder, so a crash in between leaves an
// unused folder that the next commit removes, never a key nobody knows about.
// Errors: those of CertStore and KeyService; kInvalidArgument if the certificate is not for the
// key (checked before anything is written).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "identity/cert_store.h"
#include "identity/issuer.h"
#include "identity/key_service.h"

namespace edgetrust::identity {

struct CommitResult {
  uint32_t generation = 0;
  std::vector<uint32_t> removed_generations;
  std::vector<std::string> deleted_keys;
};

// The number the next generation of `name` gets, after CleanUncommitted.
Result<uint32_t> NextGeneration(const CertStore& store, std::string_view name);

Result<CommitResult> CommitIdentity(const CertStore& store, KeyService& keys, std::string_view name,
                                    std::string_view key_name, const IssuedCertificate& issued);

}  // namespace edgetrust::identity
