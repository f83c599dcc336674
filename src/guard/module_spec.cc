#include "guard/module_spec.h"

#include "deploy/effective_config.h"

namespace edgetrust::guard {

std::string ContainerName(const std::string& module) { return "edgetrust-" + module; }

docker::ContainerSpec ToContainerSpec(const deploy::Manifest& manifest,
                                      const deploy::Module& module,
                                      const std::string& sd_socket_dir) {
  docker::ContainerSpec s;
  s.name = ContainerName(module.name);
  s.image = module.image;
  s.command = module.command;
  for (const auto& [k, v] : module.env) s.env.push_back(k + "=" + v);
  s.user = module.user;
  s.working_dir = module.working_dir;
  s.read_only_rootfs = module.read_only_rootfs;
  for (const auto& w : module.writable) {
    docker::MountSpec m;
    m.target = w.path;
    if (w.type == "tmpfs") {
      m.type = "tmpfs";
      m.tmpfs_options = deploy::TmpfsOptions(w);
    } else {
      m.type = "volume";
      m.source = w.volume;
    }
    s.mounts.push_back(std::move(m));
  }
  for (const auto& b : module.mounts) {
    s.mounts.push_back(docker::MountSpec{"bind", b.source, b.target, b.read_only, ""});
  }
  if (module.secure_domain) {
    s.mounts.push_back(
        docker::MountSpec{"bind", sd_socket_dir, deploy::kSecureDomainMountTarget, true, ""});
  }
  s.cap_add = module.cap_add;
  s.cap_drop = module.cap_drop;
  s.network_mode = module.network;
  s.labels = {{kLabelDeployment, manifest.deployment},
              {kLabelModule, module.name},
              {kLabelManifest, manifest.digest}};
  s.security_opt = deploy::DefaultSecurityOptions();
  return s;
}

}  // namespace edgetrust::guard
