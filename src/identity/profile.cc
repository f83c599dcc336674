#include "identity/profile.h"

namespace edgetrust::identity {

std::string_view ProfileName(Profile profile) {
  switch (profile) {
    case Profile::kCa:
      return "ca";
    case Profile::kServer:
      return "server";
    case Profile::kClient:
      return "client";
    case Profile::kClientServer:
      return "client-server";
  }
  return "?";
}

std::optional<Profile> ParseProfile(std::string_view name) {
  for (Profile p : {Profile::kCa, Profile::kServer, Profile::kClient, Profile::kClientServer}) {
    if (ProfileName(p) == name) return p;
  }
  return std::nullopt;
}

}  // namespace edgetrust::identity
