#include "guard/inspect_config.h"

#include <algorithm>

namespace edgetrust::guard {

deploy::EffectiveConfig FromInspect(const std::string& module, const docker::ContainerInfo& info,
                                    const docker::ImageInfo& image,
                                    const std::string& sd_socket_dir,
                                    const std::set<std::string>& declared_env) {
  deploy::EffectiveConfig c;
  c.module = module;
  c.image_id = info.image;
  c.argv.push_back(info.path);
  c.argv.insert(c.argv.end(), info.args.begin(), info.args.end());
  const std::set<std::string> image_env(image.env.begin(), image.env.end());
  for (const auto& e : info.env) {
    const std::string key = e.substr(0, e.find('='));
    if (image_env.count(e) == 0 || declared_env.count(key) != 0) c.env.push_back(e);
  }
  std::sort(c.env.begin(), c.env.end());
  c.user = info.user;
  c.working_dir = info.working_dir;
  c.read_only_rootfs = info.read_only_rootfs;
  c.privileged = info.privileged;
  c.cap_add = deploy::NormaliseCapabilities(info.cap_add);
  c.cap_drop = deploy::NormaliseCapabilities(info.cap_drop);
  for (const auto& m : info.mounts) {
    deploy::MountConfig mc;
    mc.type = m.type;
    mc.target = m.destination;
    mc.read_only = !m.rw;
    if (m.type == "volume") {
      mc.source = m.name;
    } else if (m.type == "bind" && !sd_socket_dir.empty() && m.source == sd_socket_dir &&
               m.destination == deploy::kSecureDomainMountTarget) {
      mc.source = deploy::kSecureDomainSource;
    } else {
      mc.source = m.source;
    }
    c.mounts.push_back(std::move(mc));
  }
  for (const auto& [path, options] : info.tmpfs) {
    deploy::MountConfig mc;
    mc.type = "tmpfs";
    mc.target = path;
    mc.options = options;
    c.mounts.push_back(std::move(mc));
  }
  std::sort(c.mounts.begin(), c.mounts.end(),
            [](const deploy::MountConfig& a, const deploy::MountConfig& b) {
              return a.target < b.target;
            });
  c.network_mode = info.network_mode;
  c.pid_mode = info.pid_mode;
  c.ipc_mode = info.ipc_mode;
  c.device_count = info.device_count;
  c.security_opt = info.security_opt;
  std::sort(c.security_opt.begin(), c.security_opt.end());
  return c;
}

std::set<std::string> DeclaredEnv(const deploy::Module& module) {
  std::set<std::string> keys;
  for (const auto& [key, value] : module.env) keys.insert(key);
  return keys;
}

}  // namespace edgetrust::guard
