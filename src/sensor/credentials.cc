#include "sensor/credentials.h"

#include <algorithm>
#include <cctype>

#include "common/hex.h"
#include "mqtt/client_tls.h"
#include "provider/key_uri.h"
#include "provider/load_key.h"

namespace edgetrust::sensor {
namespace {

constexpr size_t kMaxPskFile = 4096;

Result<SecretBytes> ReadPsk(const SensorOptions& o) {
  std::string hex = o.psk_hex;
  if (!o.psk_file.empty()) {
    ET_ASSIGN_OR_RETURN(SecretBytes text, mqtt::ReadSecretFile(o.psk_file));
    if (text.size() > kMaxPskFile) {
      return Status(ErrorCode::kInvalidArgument, o.psk_file + ": too large for a PSK");
    }
    hex.assign(text.data(), text.data() + text.size());
    while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.pop_back();
  }
  auto bytes = HexDecode(hex);
  SecureWipe(hex.data(), hex.size());
  if (!bytes.ok() || bytes->empty() || bytes->size() > 256) {
    return Status(
        ErrorCode::kInvalidArgument,
        (o.psk_file.empty() ? std::string("--psk") : o.psk_file) + ": wants 1 to 256 bytes in hex");
  }
  SecretBytes psk(*bytes);
  SecureWipe(bytes->data(), bytes->size());
  return psk;
}

Result<Credentials> CertificateCredentials(const SensorOptions& o, const std::string& cert_file,
                                           const std::string& key_source) {
  mqtt::ClientTlsConfig config;
  config.ca_file = o.ca_file;
  config.cert_file = cert_file;
  EvpPkeyPtr key;
  std::string description = "mutual TLS";
  if (key_source.rfind("edgetrust:", 0) == 0) {
    ET_ASSIGN_OR_RETURN(key, LoadSdKeyUri(key_source, o.sd_socket));
    ET_ASSIGN_OR_RETURN(config.libctx, provider::SharedLibCtx());
    description += " (key " + key_source + " in the secure domain)";
  } else {
    // A key file may also be an EDGETRUST KEY file naming a secure-domain key.
    ET_ASSIGN_OR_RETURN(SecretBytes text, mqtt::ReadSecretFile(key_source));
    const std::string_view view(reinterpret_cast<const char*>(text.data()), text.size());
    if (view.find("-----BEGIN EDGETRUST KEY-----") != std::string_view::npos) {
      auto ref = provider::ParseKeyPem(view);
      if (!ref.ok()) {
        return Status(ErrorCode::kInvalidArgument, key_source + ": " + ref.status().message());
      }
      if (ref->socket.empty()) ref->socket = o.sd_socket;
      ET_ASSIGN_OR_RETURN(key, LoadSdKeyUri(provider::FormatKeyUri(*ref), o.sd_socket));
      ET_ASSIGN_OR_RETURN(config.libctx, provider::SharedLibCtx());
      description += " (key " + ref->name + " in the secure domain)";
    } else {
      ET_ASSIGN_OR_RETURN(key, mqtt::ParsePrivateKeyPem(text.view(), key_source));
    }
  }
  config.key = key.get();
  ET_ASSIGN_OR_RETURN(SslCtxPtr ctx, mqtt::BuildClientTlsContext(config));
  return Credentials{std::move(ctx), description};
}

}  // namespace

std::string StateCertPath(const std::string& dir) { return dir + "/cert.pem"; }
std::string StateKeyPath(const std::string& dir) { return dir + "/key.pem"; }

Result<EvpPkeyPtr> LoadSdKeyUri(const std::string& uri, const std::string& sd_socket) {
  auto ref = provider::ParseKeyUri(uri);
  if (!ref.ok()) return Status(ErrorCode::kInvalidArgument, ref.status().message());
  const std::string socket = ref->socket.empty() ? sd_socket : ref->socket;
  auto key = provider::LoadKey(ref->name, socket);
  if (!key.ok()) {
    return Status(key.status().code(),
                  "secure-domain key " + ref->name + ": " + key.status().message());
  }
  return key;
}

Result<Credentials> LoadCredentials(const SensorOptions& o) {
  switch (o.auth) {
    case AuthMode::kCertificate:
      return CertificateCredentials(o, o.cert_file, o.key);
    case AuthMode::kState:
    case AuthMode::kEnroll:
      return CertificateCredentials(o, StateCertPath(o.state_dir), StateKeyPath(o.state_dir));
    case AuthMode::kPsk: {
      mqtt::ClientTlsConfig config;
      config.ca_file = o.ca_file;
      config.psk_identity = o.name;
      ET_ASSIGN_OR_RETURN(config.psk, ReadPsk(o));
      ET_ASSIGN_OR_RETURN(SslCtxPtr ctx, mqtt::BuildClientTlsContext(config));
      return Credentials{std::move(ctx), "TLS-PSK (identity " + o.name + ")"};
    }
  }
  return Status(ErrorCode::kInternal, "unknown authentication mode");
}

Result<SslCtxPtr> ServerOnlyContext(const SensorOptions& o) {
  mqtt::ClientTlsConfig config;
  config.ca_file = o.ca_file;
  return mqtt::BuildClientTlsContext(config);
}

}  // namespace edgetrust::sensor
