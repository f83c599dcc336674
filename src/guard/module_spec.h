// A manifest module as the engine's create request (docker::ContainerSpec), with the labels that
// let the guard recognise its containers after a restart of the agent.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "deploy/manifest.h"
#include "docker/engine.h"

namespace edgetrust::guard {

inline constexpr char kLabelDeployment[] = "io.edgetrust.deployment";
inline constexpr char kLabelModule[] = "io.edgetrust.module";
inline constexpr char kLabelManifest[] = "io.edgetrust.manifest";  // the manifest's sha256

// The container's name for a module: "edgetrust-<module>".
std::string ContainerName(const std::string& module);

// `sd_socket_dir`: the host folder holding the secure domain's socket, mounted read-only at
// deploy::kSecureDomainMountTarget for modules that declare secure_domain.
docker::ContainerSpec ToContainerSpec(const deploy::Manifest& manifest,
                                      const deploy::Module& module,
                                      const std::string& sd_socket_dir);

}  // namespace edgetrust::guard
