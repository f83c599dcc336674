// A bounded in-memory cache of loaded keys, shared by the backends.
//
// Keys are loaded from the backend's storage on first use and cached (decoded, ready for use).
// The lock is held only to look up, insert or erase; loading and crypto run outside it, so clients
// on different cores never wait for each other's operations.
//
// A key deleted while it was being loaded or created is never put (back) into the cache: the
// backend removes the stored record inside Delete (under the exclusive lock), and Put checks
// `exists` under that same lock before inserting.
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "edgetrust/status.h"
#include "sd/backend.h"

namespace edgetrust::sd {

// At most this many keys stay decoded in memory. A decoded P-256 key costs OpenSSL about 2.3 KiB
// (each key has its own copy of the curve), so caching every key ever used made the daemon grow
// with the number of keys (12 MiB with 1,000). Past the bound a key is evicted at random; using it
// again reloads it from the object store (a file read, an AEAD check and a decode, about 0.3 ms).
// Clients use a few keys each, far fewer than the bound.
inline constexpr size_t kMaxCachedKeys = 128;

template <typename Loaded>
class KeyCache {
 public:
  using Ptr = std::shared_ptr<const Loaded>;

  explicit KeyCache(size_t max_entries = kMaxCachedKeys) : max_entries_(max_entries) {}
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  // The cached key, or null.
  Ptr Find(const KeyId& id) const {
    return Find(id, [](const Loaded&) { return true; });
  }
  // The cached key if usable(key), else null.
  template <typename Usable>
  Ptr Find(const KeyId& id, Usable&& usable) const {
    std::shared_lock lock(mu_);
    auto it = entries_.find(CacheKey(id));
    if (it == entries_.end() || !usable(*it->second)) return nullptr;
    return it->second;
  }

  // Caches `key` if exists() (the key's record is still stored) is true under the lock. A new key
  // (`replace`) replaces whatever is cached under its name: a load that read the record before a
  // delete and re-create must not leave the old key behind; a load never replaces.
  template <typename Exists>
  void Put(const KeyId& id, Ptr key, bool replace, Exists&& exists) {
    PutIf(id, std::move(key), std::forward<Exists>(exists),
          [replace](const Loaded&) { return replace; });
  }
  // As Put, but an entry already cached is replaced when replace_cached(cached) says so.
  template <typename Exists, typename ReplaceCached>
  void PutIf(const KeyId& id, Ptr key, Exists&& exists, ReplaceCached&& replace_cached) {
    std::unique_lock lock(mu_);
    if (!exists()) return;
    std::string ck = CacheKey(id);
    if (entries_.size() >= max_entries_ && entries_.find(ck) == entries_.end()) EvictOneOf(ck);
    auto [it, inserted] = entries_.emplace(std::move(ck), key);
    if (!inserted && replace_cached(*it->second)) it->second = std::move(key);
  }

  // Runs remove() (which removes the key's stored record) under the exclusive lock and drops the
  // cached entry in the same critical section; returns what remove() returned.
  template <typename Remove>
  Status Delete(const KeyId& id, Remove&& remove) {
    std::unique_lock lock(mu_);
    Status st = remove();
    entries_.erase(CacheKey(id));
    return st;
  }

  // Drops the cached entry (e.g. its handles went stale); the next use reloads it.
  void Erase(const KeyId& id) {
    std::unique_lock lock(mu_);
    entries_.erase(CacheKey(id));
  }

 private:
  static std::string CacheKey(const KeyId& id) { return id.owner + '\0' + id.name; }

  // Removes one entry other than `keep`, picked by hashing `keep` into the buckets: a different
  // bucket for every new key, so no entry is evicted more often than another.
  void EvictOneOf(const std::string& keep) {
    const size_t buckets = entries_.bucket_count();
    if (entries_.empty() || buckets == 0) return;
    const size_t start = std::hash<std::string>{}(keep) % buckets;
    for (size_t i = 0; i < buckets; ++i) {
      const size_t b = (start + i) % buckets;
      for (auto it = entries_.begin(b); it != entries_.end(b); ++it) {
        if (it->first != keep) {
          const std::string victim = it->first;
          entries_.erase(victim);
          return;
        }
      }
    }
  }

  const size_t max_entries_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Ptr> entries_;
};

}  // namespace edgetrust::sd
