#include "sd/key_listing.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "common/hex.h"
#include "sd/principal.h"

namespace edgetrust::sd {

std::vector<KeyMeta> ListScannedKeys(const std::vector<ObjectStore::ScanEntry>& scan,
                                     std::optional<std::string_view> owner,
                                     std::string_view service_owner,
                                     const ListingAnnotator& annotate) {
  std::vector<KeyMeta> out;
  for (const auto& e : scan) {
    if (e.authentic && e.header && e.header->owner == service_owner) continue;
    const bool plausible =
        e.header && IsValidPrincipal(e.header->owner) && IsValidKeyName(e.header->name);
    if (!plausible) {
      // The file name is anyone's choice too: show it only if it is a valid key name, else hex.
      std::string shown =
          IsValidKeyName(e.file)
              ? e.file
              : "file-" + HexEncode(AsBytes(e.file).first(std::min<size_t>(e.file.size(), 29)));
      if (!owner) {
        out.push_back(KeyMeta{{"?", shown}, KeyType::kEcdsaP256, 0, "tampered: " + e.problem});
      }
      continue;
    }
    if (owner && e.header->owner != *owner) continue;
    KeyMeta m{{e.header->owner, e.header->name},
              e.header->type,
              e.header->created,
              e.authentic ? "ok" : "tampered: " + e.problem};
    if (annotate) annotate(e, m);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const KeyMeta& a, const KeyMeta& b) {
    return std::tie(a.id.owner, a.id.name) < std::tie(b.id.owner, b.id.name);
  });
  return out;
}

}  // namespace edgetrust::sd
