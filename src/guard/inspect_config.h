// What a container really runs, from the engine's inspect answers, as a deploy::EffectiveConfig:
// the "actual" side of a module's measurement (deploy/effective_config.h is the "expected" side,
// computed from the signed manifest). Both sides must produce the same canonical form for an
// honest deployment; any difference is a configuration the manifest did not ask for.
//
// Thread safety: pure functions.
#pragma once

#include <set>
#include <string>

#include "deploy/effective_config.h"
#include "docker/engine.h"

namespace edgetrust::guard {

// `image`: the inspect answer of the container's image (its own environment is left out: the
// image digest covers it, except for variables in `declared_env`, which the manifest sets and
// which are kept even when they equal the image's value). `sd_socket_dir`: the host folder of the
// secure domain's socket; a bind mount of it is measured as deploy::kSecureDomainSource so that
// reference values do not depend on where a gateway keeps its socket.
deploy::EffectiveConfig FromInspect(const std::string& module, const docker::ContainerInfo& info,
                                    const docker::ImageInfo& image,
                                    const std::string& sd_socket_dir,
                                    const std::set<std::string>& declared_env = {});

// The names of the variables a manifest module sets (FromInspect's `declared_env`).
std::set<std::string> DeclaredEnv(const deploy::Module& module);

}  // namespace edgetrust::guard
