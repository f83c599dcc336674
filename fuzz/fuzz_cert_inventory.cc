// Fuzz target: the certificate inventory (identity/inventory.h), <cert-dir>/inventory.json, a file
// operators may edit by hand and the renewal timer reads.
//
// ParseInventory on the input as text. A rejected file must be kMalformed, kInvalidArgument or
// kTooLarge with a message; an accepted one must satisfy ValidateInventory, hold only valid
// names, subjects, SANs, lifetimes and shares, and survive a round trip: serialising and parsing
// again gives the same text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "identity/inventory.h"
#include "identity/lifetime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace id = edgetrust::identity;
  using edgetrust::ErrorCode;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto inv = id::ParseInventory(text);
  if (!inv.ok()) {
    const ErrorCode code = inv.status().code();
    ET_FUZZ_CHECK(code == ErrorCode::kMalformed || code == ErrorCode::kInvalidArgument ||
                  code == ErrorCode::kTooLarge);
    ET_FUZZ_CHECK(!inv.status().message().empty());
    return 0;
  }
  ET_FUZZ_CHECK(id::ValidateInventory(*inv).ok());
  ET_FUZZ_CHECK(inv->entries.size() <= id::kMaxIdentities);
  for (const auto& e : inv->entries) {
    ET_FUZZ_CHECK(id::IsValidIdentityName(e.name));
    ET_FUZZ_CHECK(id::IsValidShare(e.renew_share));
    ET_FUZZ_CHECK(e.days >= 1 && e.days <= id::kMaxDays);
    ET_FUZZ_CHECK(!e.subject.empty() || !e.sans.empty());
    ET_FUZZ_CHECK(edgetrust::IsAsymmetric(e.key_type));
    auto subject = id::ParseSubject(id::FormatSubject(e.subject));
    ET_FUZZ_CHECK(e.subject.empty() || (subject.ok() && *subject == e.subject));
    for (const auto& s : e.sans) {
      auto again = id::ParseSan(id::FormatSan(s));
      ET_FUZZ_CHECK(again.ok() && *again == s);
    }
    ET_FUZZ_CHECK(inv->Find(e.name) == &e);  // names are unique
  }
  const std::string out = id::SerializeInventory(*inv);
  auto reparsed = id::ParseInventory(out);
  ET_FUZZ_CHECK(reparsed.ok());
  ET_FUZZ_CHECK(id::SerializeInventory(*reparsed) == out);
  return 0;
}
