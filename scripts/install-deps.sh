#!/usr/bin/env bash
# Installs the Debian 12 packages EdgeTrust needs to build, test, fuzz and run its demo.
#
# Idempotent and silent when everything is already present: it asks dpkg first and touches
# apt only for what is missing. Uses sudo only when not running as root.
set -euo pipefail

PACKAGES=(
  # Toolchain and build system
  build-essential cmake ninja-build pkg-config g++
  # clang: asan/tsan/fuzz presets; its sanitizer and libFuzzer runtimes; lint and format
  clang libclang-rt-14-dev clang-tidy clang-format
  # Crypto (OpenSSL 3 library, and the openssl CLI as an independent checker)
  libssl-dev openssl
  # Tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # Libraries: JSON, TOML config, CLI parsing, logging, formatting, CBOR (EAT/COSE), seccomp
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev libcbor-dev
  libseccomp-dev
  # Independent checkers used by tests (call through /usr/bin/python3)
  python3 python3-cryptography python3-cbor2
  # The pkcs11 backend and its checkers: SoftHSM2 (the token in tests, the peer in the benchmark),
  # OpenSC pkcs11-tool, p11-kit's pkcs11.h
  softhsm2 opensc libp11-kit-dev
  # The tpm backend: tpm2-tss (ESYS, marshalling, TCTIs), the swtpm simulator for tests and the
  # demo, and tpm2-tools as the independent checker (tpm2_checkquote)
  libtss2-dev swtpm swtpm-tools tpm2-tools
  # TLS interop: mosquitto plays the cloud broker; its clients and python3 paho-mqtt are checkers
  mosquitto mosquitto-clients libmosquitto-dev python3-paho-mqtt
  # The agent's durable store-and-forward queue (SQLite in WAL mode)
  libsqlite3-dev
  # The container guard: the Docker engine (tests start their own dockerd), libcurl for its API
  # over the Unix socket, busybox-static to build test images offline
  docker.io libcurl4-openssl-dev busybox-static
  # Runtime tools used by tests and the demo: setpriv (util-linux), ps/pgrep (procps)
  util-linux procps curl
)

die() {
  echo "install-deps: $*" >&2
  exit 1
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian 12 only"

# One dpkg-query call for all packages; a package counts as present only if dpkg says "installed"
# (for multi-arch packages any architecture will do).
declare -A present=()
while read -r name status; do
  [[ "$status" == "installed" ]] && present["${name%%:*}"]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ -n "${present[$p]:-}" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    die "missing packages (${missing[*]}) and not root and no sudo: install them as root"
  SUDO=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
if ! "${SUDO[@]}" apt-get update -qq; then
  die "'apt-get update' failed; cannot install: ${missing[*]}"
fi
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  die "'apt-get install' failed for: ${missing[*]}"
fi

# Double-check: apt can succeed without installing what we asked for (e.g. held packages).
still=()
for p in "${missing[@]}"; do
  s="$(dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null || true)"
  grep -qx installed <<<"$s" || still+=("$p")
done
((${#still[@]} == 0)) || die "still missing after install: ${still[*]}"
echo "install-deps: done"
