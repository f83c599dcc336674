// The real Mosquitto broker (Debian's mosquitto), started for a test with a generated config in a
// folder of its own inside the test's TempDir, listening on free loopback ports only (BRIEF.md
// section 5). It plays the cloud in the provider tests and, later, the gateway's cloud and
// leaf-facing brokers.
//
// Which user the broker runs as matters when its key is in the secure domain. Started as root,
// mosquitto switches to the user named by `user` in its config (Debian's default: "mosquitto")
// right after binding its listeners and *before* it reads certfile/keyfile (mosquitto 2.0 reads
// them as that user). Its edgetrust provider therefore reaches edgetrust-sd as that user, and the
// daemon names the caller by its kernel-reported uid: the broker's key must belong to the
// principal `uid:<mosquitto's uid>`, created with RunCliAs(broker.uid(), broker.gid(), ...). We
// keep that privilege drop (Options::user defaults to "mosquitto") rather than run the broker as
// root: it is how the broker is deployed, it keeps the broker's keys out of root's namespace, and
// it checks that nothing here depends on the broker being root. The daemon's socket is reachable
// by that user (mode 0666 by default, docs/policy.md; TempDir folders are 0755) and the files the
// broker reads (config, certificates, PEM-form key references, openssl.cnf) are written 0644.
// Not started as root, the broker keeps the test's user and ignores `user`.
//
// Ownership and thread safety: the object owns the broker and kills it on destruction; one thread
// uses an object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "child_process.h"
#include "harness.h"

namespace edgetrust::test {

class MosquittoProcess {
 public:
  // One listener on 127.0.0.1; TLS when certfile is set.
  struct Listener {
    std::string cafile;    // CA bundle to verify client certificates with
    std::string certfile;  // server certificate (chain), PEM
    std::string keyfile;   // server key: a PEM key, or the PEM form of a secure-domain key
    bool require_certificate = false;
    std::string tls_version;  // "tlsv1.3", "tlsv1.2"; empty: mosquitto's default (1.2 and 1.3)
    // Lines written right after this listener's own options (listener-scoped settings such as
    // use_identity_as_username).
    std::vector<std::string> extra_config;
  };
  struct Options {
    std::vector<Listener> listeners = {Listener{}};
    // Global lines appended to the config (e.g. "max_queued_messages 5000").
    std::vector<std::string> extra_config;
    // "NAME=value" added to the broker's environment, e.g. OPENSSL_CONF=<an openssl.cnf that
    // activates the edgetrust provider>.
    std::vector<std::string> env;
    // The user the broker switches to when started as root (see above); "root" keeps root.
    std::string user = "mosquitto";
    bool allow_anonymous = true;
  };

  MosquittoProcess(const TempDir& dir, Options options);
  ~MosquittoProcess();
  MosquittoProcess(const MosquittoProcess&) = delete;
  MosquittoProcess& operator=(const MosquittoProcess&) = delete;

  // Picks a free port for every listener, writes the config, starts the broker and waits (up to
  // 30 s) until it logged "running" and every listener accepts. A port taken by someone else in
  // between makes the broker exit: it is then started again on new ports (a few times). False when
  // it did not get ready (the reason in log()).
  bool Start();
  // Stops the broker if it runs and starts it again on the same ports, with the same config, so
  // clients reconnect to where they were (a cloud outage). False when it did not get ready.
  bool Restart();
  // SIGTERM and wait; the exit code (0 for a clean stop; -1 if it had to be killed or never ran).
  int Stop();
  void Kill();
  bool running() { return process_.running(); }

  // The port of listener `i` (0 before Start()).
  int port(size_t i = 0) const { return i < ports_.size() ? ports_[i] : 0; }
  // The uid and gid the broker runs as once started: the `user` option's when the test runs as
  // root (and user is not "root"), the test's own otherwise. Known before Start(), so keys can be
  // created for the broker's principal first. -1 when the user does not exist.
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }
  // "uid:N", the broker's principal at edgetrust-sd.
  std::string principal() const { return "uid:" + std::to_string(uid_); }

  // Waits (up to `timeout`) until the broker's log holds `text`, e.g. "Sending SUBACK to ID" once
  // a client with id ID subscribed. False on timeout or when the broker exited without it.
  bool WaitForLog(const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const std::string& config_path() const { return config_path_; }
  // The broker's log (everything, log_type all) followed by the config it was started with, for
  // failure messages.
  std::string log() const;

  // Whether the mosquitto binary is installed (install-deps.sh installs it).
  static bool Available();

 private:
  std::string ConfigText() const;
  bool StartOn(bool keep_ports);

  Options options_;
  std::string dir_;
  std::string config_path_;
  std::string log_path_;
  std::vector<int> ports_;
  uid_t uid_ = static_cast<uid_t>(-1);
  gid_t gid_ = static_cast<gid_t>(-1);
  ChildProcess process_;
};

}  // namespace edgetrust::test
