#include "identity/identity_commit.h"

#include <algorithm>
#include <set>

#include "identity/certificate.h"
#include "identity/crash_point.h"

namespace edgetrust::identity {
namespace {

// The key a generation's key.pem names; nullopt when it cannot be read (a damaged leftover).
std::optional<std::string> KeyOfGeneration(const CertStore& store, KeyService& keys,
                                           std::string_view name, uint32_t gen) {
  auto g = store.LoadGeneration(name, gen);
  if (!g.ok()) return std::nullopt;
  auto key = keys.NameFromReference(g->key_pem);
  if (!key.ok()) return std::nullopt;
  return *key;
}

Status Prune(const CertStore& store, KeyService& keys, std::string_view name, uint32_t current,
             CommitResult& result) {
  ET_ASSIGN_OR_RETURN(std::vector<uint32_t> gens, store.Generations(name));
  std::set<uint32_t> keep = {current};
  // The previous generation is the highest one below current.
  for (auto it = gens.rbegin(); it != gens.rend(); ++it) {
    if (*it < current) {
      keep.insert(*it);
      break;
    }
  }
  std::set<std::string> kept_keys;
  for (uint32_t g : keep) {
    if (auto k = KeyOfGeneration(store, keys, name, g)) kept_keys.insert(*k);
  }
  for (uint32_t g : gens) {
    if (keep.count(g) != 0) continue;
    if (auto k = KeyOfGeneration(store, keys, name, g); k && kept_keys.count(*k) == 0) {
      Status st = keys.Delete(*k);
      if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
      if (st.ok()) result.deleted_keys.push_back(*k);
      CrashPoint("old-key-deleted");
    }
    ET_RETURN_IF_ERROR(store.RemoveGeneration(name, g));
    result.removed_generations.push_back(g);
    CrashPoint("old-generation-removed");
  }
  return Status::Ok();
}

}  // namespace

Result<uint32_t> NextGeneration(const CertStore& store, std::string_view name) {
  ET_ASSIGN_OR_RETURN(std::vector<uint32_t> gens, store.Generations(name));
  return gens.empty() ? 1u : gens.back() + 1;
}

Result<CommitResult> CommitIdentity(const CertStore& store, KeyService& keys, std::string_view name,
                                    std::string_view key_name, const IssuedCertificate& issued) {
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr pub, keys.PublicKey(key_name));
  if (!SameKey(pub.get(), PublicKey(issued.cert.get()))) {
    return Status(ErrorCode::kInvalidArgument, "certificate is for key " +
                                                   KeyFingerprint(PublicKey(issued.cert.get())) +
                                                   ", not for key " + std::string(key_name) + " (" +
                                                   KeyFingerprint(pub.get()) + ")");
  }
  ET_RETURN_IF_ERROR(store.CleanUncommitted(name));
  ET_ASSIGN_OR_RETURN(uint32_t gen, NextGeneration(store, name));
  ET_ASSIGN_OR_RETURN(std::string key_pem, keys.ReferencePem(key_name));
  ET_RETURN_IF_ERROR(
      store.WriteGeneration(name, gen, ToPem(issued.cert.get()), ChainPem(issued), key_pem));
  ET_RETURN_IF_ERROR(store.SwitchCurrent(name, gen));
  CommitResult result;
  result.generation = gen;
  ET_RETURN_IF_ERROR(Prune(store, keys, name, gen, result));
  return result;
}

}  // namespace edgetrust::identity
