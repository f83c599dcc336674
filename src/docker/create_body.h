// The body of POST /containers/create for a ContainerSpec (docs/docker.md).
//
// Entrypoint = [command[0]], Cmd = the rest of command, so the image's own entrypoint never runs.
// HostConfig: ReadonlyRootfs, Mounts (bind and volume, with ReadOnly), Tmpfs (path -> options),
// CapAdd, CapDrop, NetworkMode ("none" or "host" only), SecurityOpt, Memory, PidsLimit, Init
// false; Config Labels, Env, User, WorkingDir. Nothing else is set.
//
// Thread safety: a pure function. Errors: kInvalidArgument naming the field of the spec that is
// wrong (no command, a network other than none/host, a relative mount target, text that is not
// UTF-8, ...).
#pragma once

#include <string>

#include "docker/engine.h"
#include "edgetrust/status.h"

namespace edgetrust::docker {

Result<std::string> BuildCreateBody(const ContainerSpec& spec);

}  // namespace edgetrust::docker
