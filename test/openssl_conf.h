// openssl.cnf files for programs that take secure-domain keys only through OpenSSL configuration
// (mosquitto, mosquitto_pub, the openssl CLI without -provider flags): OPENSSL_CONF=<file> loads
// OpenSSL's default provider and the edgetrust module, pointed at one daemon socket.
#pragma once

#include <string>

namespace edgetrust::test {

// The text of an openssl.cnf that activates the default provider and the provider module
// `module` (a path to edgetrust.so; a test gets its build's from a compile definition with
// $<TARGET_FILE_DIR:edgetrust_provider>) with its `socket` parameter (the daemon's socket; empty
// leaves it out, so the provider falls back to $EDGETRUST_SOCKET).
std::string ProviderOpensslConf(const std::string& module, const std::string& socket);

// Writes ProviderOpensslConf to `path` (mode 0644, so a broker that dropped to its own user reads
// it) and returns `path`.
std::string WriteProviderOpensslConf(const std::string& path, const std::string& module,
                                     const std::string& socket);

}  // namespace edgetrust::test
