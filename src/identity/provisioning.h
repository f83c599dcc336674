// `edgetrust provision`: gives a device its identity.
//
// Creates in the secure domain the device identity key `device-id` and a local device CA key
// `device-ca` (a key that exists is used as it is, never replaced), a self-signed device CA
// certificate (identity "device-ca") and a device identity certificate it signs (identity
// "device-id": clientAuth + serverAuth, SANs URI:urn:edgetrust:device:<id> and DNS:<id>), and
// records both in the inventory so `cert renew` keeps them fresh.
//
// Idempotent: on a provisioned device it changes nothing and says so (a different --id is an
// error then); with `force` it issues new certificates for the existing keys. An interrupted
// run is completed by the next one: the inventory is written first, and each certificate is
// committed as in identity_commit.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgetrust/status.h"
#include "edgetrust/types.h"
#include "identity/cert_store.h"
#include "identity/key_service.h"

namespace edgetrust::identity {

inline constexpr char kDeviceIdentity[] = "device-id";
inline constexpr char kDeviceCa[] = "device-ca";

struct ProvisionOptions {
  std::string device_id;  // empty: the one already provisioned, else the host name
  KeyType key_type = KeyType::kEcdsaP256;
  uint32_t ca_days = 3650;
  uint32_t days = 365;
  bool force = false;
  int64_t now = 0;
};

struct ProvisionedItem {
  std::string identity;
  std::string key;
  std::string key_type;
  bool key_created = false;
  bool issued = false;  // a new certificate was made in this run
  uint32_t generation = 0;
  std::string subject;
  std::vector<std::string> sans;
  int64_t not_after = 0;
  std::string fingerprint;
  std::string cert_path;  // <cert-dir>/NAME/current/cert.pem
};

struct ProvisionReport {
  bool already_provisioned = false;  // nothing was changed
  std::string device_id;
  std::vector<ProvisionedItem> items;  // device-ca, device-id
};

// The default device id: the host name, if it is a valid one (inventory.h).
Result<std::string> DefaultDeviceId();

Result<ProvisionReport> Provision(const CertStore& store, KeyService& keys,
                                  const ProvisionOptions& options);

}  // namespace edgetrust::identity
