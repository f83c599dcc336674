// What a certificate is for. The profile decides its extensions (cert_builder.h): a CA signs
// certificates; a leaf authenticates a TLS server, a TLS client, or both.
#pragma once

#include <optional>
#include <string_view>

namespace edgetrust::identity {

enum class Profile {
  kCa,            // basicConstraints CA:TRUE pathlen 0, keyCertSign + cRLSign
  kServer,        // extendedKeyUsage serverAuth
  kClient,        // extendedKeyUsage clientAuth
  kClientServer,  // both: the device identity, which dials the cloud and serves leaf devices
};

// "ca", "server", "client", "client-server".
std::string_view ProfileName(Profile profile);
std::optional<Profile> ParseProfile(std::string_view name);
inline bool IsServerProfile(Profile p) {
  return p == Profile::kServer || p == Profile::kClientServer;
}
inline bool IsClientProfile(Profile p) {
  return p == Profile::kClient || p == Profile::kClientServer;
}

}  // namespace edgetrust::identity
