#!/usr/bin/env bash
# A narrated walk-through of the EdgeTrust secure domain, on any of its backends.
#
# Usage: [BACKEND=emulated|tpm|pkcs11] scripts/demo.sh BIN_DIR
#        (make demo runs it with build/release/bin; BACKEND=tpm make demo)
#
# Starts edgetrust-sd in a temporary folder (with BACKEND=tpm on a swtpm TPM 2.0 simulator, with
# BACKEND=pkcs11 on a SoftHSM2 token, both started here on loopback and temporary folders), then
# uses the edgetrust CLI to provision the device (keys, device CA, certificates), sign and
# encrypt (checking every result with the stock openssl CLI), measure, seal, count, produce
# attestation evidence that edgetrust verify-evidence appraises (and, with a TPM, whose quote
# tpm2_checkquote checks), and run mutual TLS between stock openssl programs whose private keys
# stay in the secure domain (the edgetrust OpenSSL provider). Leaves nothing behind.
set -euo pipefail

usage() { echo "usage: $0 BIN_DIR   (the folder holding edgetrust-sd and edgetrust)" >&2; exit 2; }
(($# == 1)) || usage
BIN="$(cd "$1" 2>/dev/null && pwd)" || { echo "demo: no such folder: $1" >&2; exit 1; }
for exe in edgetrust-sd edgetrust; do
  [[ -x "$BIN/$exe" ]] || { echo "demo: $BIN/$exe is missing; build it first (make build)" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "demo: the openssl CLI is missing (scripts/install-deps.sh)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "demo: python3 is missing (scripts/install-deps.sh)" >&2; exit 1; }
export PATH="$BIN:$PATH"
BACKEND="${BACKEND:-emulated}"
case "$BACKEND" in
  emulated) ;;
  tpm) for exe in swtpm tpm2_checkquote; do
         command -v "$exe" >/dev/null || { echo "demo: $exe is missing (scripts/install-deps.sh)" >&2; exit 1; }
       done ;;
  pkcs11) for exe in softhsm2-util pkcs11-tool; do
            command -v "$exe" >/dev/null || { echo "demo: $exe is missing (scripts/install-deps.sh)" >&2; exit 1; }
          done ;;
  *) echo "demo: BACKEND must be emulated, tpm or pkcs11, not '$BACKEND'" >&2; exit 2 ;;
esac
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so

if [[ -t 1 ]]; then BOLD=$'\e[1m'; DIM=$'\e[2m'; GREEN=$'\e[32m'; RESET=$'\e[0m'
else BOLD=''; DIM=''; GREEN=''; RESET=''; fi

step() {  # step "Heading" "Explanation..."
  printf '\n%s==> %s%s\n' "$BOLD" "$1" "$RESET"
  shift
  local line
  for line in "$@"; do
    if [[ -n "$line" ]]; then printf '    %s\n' "$line"; else echo; fi
  done
}
run() {  # run 'command line'  (shown, then run by the shell, so pipes work)
  printf '%s$ %s%s\n' "$DIM" "$1" "$RESET"
  eval "$1"
}
ok() { printf '    %s%s%s\n' "$GREEN" "$1" "$RESET"; }

# --- a scratch folder, cleaned up whatever happens -------------------------------------------------
T="$(mktemp -d -t edgetrust-demo.XXXXXX)"
chmod 0755 "$T"  # an unprivileged daemon user must be able to traverse it
SD_PID=""
SWTPM_PID=""
S_SERVER_PID=""
CLOUD_PID="" SUB_PID="" AGENT_PID="" SENSOR_PID="" DOCKERD_PID="" DEXEC=""
cleanup() {
  local rc=$?
  local pid
  for pid in $SENSOR_PID $AGENT_PID $SUB_PID $CLOUD_PID; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$DOCKERD_PID" ]]; then
    /usr/bin/docker -H "unix://$DEXEC/d.sock" rm -f $(/usr/bin/docker -H "unix://$DEXEC/d.sock" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
    # What the engine left mounted under its folders goes before the folders do.
    grep -oE " ($T/docker|$DEXEC)[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$DEXEC"
  fi
  if ((rc != 0)) && [[ -s "$T/agent.log" ]]; then
    echo "demo: last lines of the agent's log:" >&2
    tail -n 30 "$T/agent.log" >&2
  fi
  if [[ -n "$S_SERVER_PID" ]] && kill -0 "$S_SERVER_PID" 2>/dev/null; then
    kill -TERM "$S_SERVER_PID" 2>/dev/null || true
    wait "$S_SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "$SD_PID" ]] && kill -0 "$SD_PID" 2>/dev/null; then
    kill -TERM "$SD_PID" 2>/dev/null || true
    wait "$SD_PID" 2>/dev/null || true
  fi
  if [[ -n "$SWTPM_PID" ]] && kill -0 "$SWTPM_PID" 2>/dev/null; then
    kill -TERM "$SWTPM_PID" 2>/dev/null || true
    wait "$SWTPM_PID" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -s "$T/sd.log" ]]; then
    echo "demo: failed (exit $rc); last lines of the daemon's log:" >&2
    tail -n 30 "$T/sd.log" >&2
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$T"

# --- 1. the daemon -----------------------------------------------------------------------------------
SD_ARGS=(--state-dir "$T/state" --socket "$T/run/sd.sock")
mkdir -m 0700 "$T/state"
if (($(id -u) == 0)); then
  # edgetrust-sd refuses to keep root: it drops to an unprivileged user after setting up.
  SD_ARGS+=(--user daemon)
  chown daemon:daemon "$T/state"
fi

# A free loopback port P with P + 1 free too: tpm2-tss's swtpm TCTI finds the control channel at
# the server port + 1.
free_port_pair() {
  /usr/bin/python3 - <<'PY'
import socket
for _ in range(100):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        continue
    print(p)
    break
PY
}
case "$BACKEND" in
  tpm)
    step "Start a TPM 2.0 (the swtpm simulator)" \
      "On a gateway with a TPM, edgetrust-sd talks to /dev/tpmrm0. Here swtpm, the TPM 2.0" \
      "simulator, plays the chip, on loopback ports and a temporary folder. Nothing else changes:" \
      "the same CLI, the same API, the same evidence format (with a TPM quote added)."
    mkdir -p "$T/swtpm"
    TPM_PORT="$(free_port_pair)"
    TPM_CTRL=$((TPM_PORT + 1))
    run "swtpm socket --tpm2 --server type=tcp,port=$TPM_PORT,bindaddr=127.0.0.1 --ctrl type=tcp,port=$TPM_CTRL,bindaddr=127.0.0.1 --tpmstate dir=$T/swtpm --flags not-need-init,startup-clear >$T/swtpm.log 2>&1 &"
    SWTPM_PID=$!
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$TPM_PORT") 2>/dev/null && break
      sleep 0.1
    done
    export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$TPM_PORT"
    SD_ARGS+=(--backend tpm --tpm-tcti "$TPM2TOOLS_TCTI")
    ok "swtpm up on 127.0.0.1:$TPM_PORT"
    ;;
  pkcs11)
    step "Create a PKCS#11 token (SoftHSM2)" \
      "On a gateway with an HSM or a secure element, edgetrust-sd loads its PKCS#11 module. Here" \
      "SoftHSM2 plays the token, in a temporary folder. The daemon logs in once with the PIN from" \
      "a file, generates keys on the token (sensitive, never extractable) and signs there."
    mkdir -p "$T/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" >"$T/softhsm2.conf"
    export SOFTHSM2_CONF="$T/softhsm2.conf"
    run "softhsm2-util --init-token --free --label gateway --pin 246810 --so-pin 13579246 | tail -n 1"
    printf '246810\n' >"$T/pin"
    chmod 0644 "$T/softhsm2.conf"
    if (($(id -u) == 0)); then chown -R daemon:daemon "$T/tokens" "$T/pin"; fi
    chmod 0600 "$T/pin"
    SD_ARGS+=(--backend pkcs11 --pkcs11-module "$SOFTHSM_MODULE" --pkcs11-token gateway
              --pkcs11-pin-file "$T/pin")
    ;;
esac

# The gateway agent (this user) measures the containers it deploys into register 2, which by
# default only admins may extend (docs/policy.md).
printf '[[policy.register]]\nindex = 2\nextenders = ["uid:%s"]\n' "$(id -u)" >"$T/sd.toml"
chmod 0644 "$T/sd.toml"
SD_ARGS+=(--config "$T/sd.toml")

step "Start the secure-domain daemon ($BACKEND backend)" \
  "edgetrust-sd is the trusted computing base: it holds the keys and does the crypto. It has no" \
  "network, listens on a Unix socket only, and identifies callers by kernel peer credentials."
printf '%s$ edgetrust-sd %s > sd.log 2>&1 &%s\n' "$DIM" "${SD_ARGS[*]}" "$RESET"
edgetrust-sd "${SD_ARGS[@]}" >"$T/sd.log" 2>&1 &
SD_PID=$!

ready=0
for _ in $(seq 100); do  # up to 10 s
  if ! kill -0 "$SD_PID" 2>/dev/null; then
    wait "$SD_PID" && rc=0 || rc=$?
    SD_PID=""
    echo "demo: edgetrust-sd exited during start-up (status $rc)" >&2
    exit 1
  fi
  if [[ -S "$T/run/sd.sock" ]] && edgetrust --socket "$T/run/sd.sock" info >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
((ready)) || { echo "demo: edgetrust-sd did not answer on $T/run/sd.sock within 10 s" >&2; exit 1; }
ok "daemon up (pid $SD_PID)"

case "$BACKEND" in
  emulated) INFO_NOTE="The emulated backend protects keys from other users and containers on this machine, not from root; its evidence says so." ;;
  tpm) INFO_NOTE="With a TPM, keys are generated inside the TPM and kept as wrapped blobs; 'native' features run on the TPM, 'provided' ones in the daemon with TPM-held keys." ;;
  pkcs11) INFO_NOTE="With a token, keys are generated on it and never leave it; 'provided' features (counters) are the daemon's, sealed with a token key." ;;
esac
step "Ask the daemon what it is" \
  "info shows the daemon's version, its backend and device, and for each feature whether the" \
  "secure hardware does it (native) or the daemon on top of it (provided)." \
  "$INFO_NOTE"
run "edgetrust --socket $T/run/sd.sock info"

step "Point the CLI at the daemon once" \
  "Instead of --socket on every command, export EDGETRUST_SOCKET."
run "export EDGETRUST_SOCKET=$T/run/sd.sock"

# --- 2. device identity ---------------------------------------------------------------------------
export EDGETRUST_CERT_DIR="$T/certs"
step "Provision the device" \
  "edgetrust provision creates two keys inside the secure domain, the device identity key" \
  "(device-id) and a local device CA key (device-ca). It writes a self-signed device CA" \
  "certificate and a device certificate the CA signs. The private halves never leave the" \
  "secure domain; the certificate folder ($EDGETRUST_CERT_DIR) only holds public data."
run "edgetrust provision --id gw-demo-01"
run "edgetrust key list"
run "edgetrust cert list"
if [[ "$BACKEND" == pkcs11 ]]; then
  step "Look at the token with OpenSC's pkcs11-tool" \
    "The keys are token objects: the token itself says they are sensitive and were never extractable."
  run "pkcs11-tool --module $SOFTHSM_MODULE --token-label gateway --login --pin 246810 --list-objects --type privkey"
fi

step "Check the device certificate with the stock openssl CLI" \
  "openssl verifies the chain, and shows the extensions the local CA set."
CERTS="$EDGETRUST_CERT_DIR"
run "openssl verify -CAfile $CERTS/device-ca/current/cert.pem $CERTS/device-id/current/cert.pem"
run "openssl x509 -in $CERTS/device-id/current/cert.pem -noout -subject -ext basicConstraints,keyUsage,extendedKeyUsage,subjectAltName"

step "What the key file holds" \
  "key.pem next to the certificate is not a private key. It names the secure-domain key, so that" \
  "programs which only read key files (mosquitto, nginx, curl) use it through the edgetrust" \
  "OpenSSL provider. Copied elsewhere it is useless: the daemon serves the key to its owner only."
run "cat $CERTS/device-id/current/key.pem"
run "grep -v -- ----- $CERTS/device-id/current/key.pem | base64 -d; echo"

step "Export the public key" \
  "The public half is exported as standard PEM, so any tool can check our signatures."
run "edgetrust key public device-id --out device-id.pub.pem"
run "openssl pkey -pubin -in device-id.pub.pem -noout -text | head -n 12"

# --- 3. signing, checked by openssl -------------------------------------------------------------------
step "Sign a firmware manifest" \
  "The daemon signs the file's SHA-256 digest with the device identity key."
cat >manifest.json <<'EOF'
{
  "component": "sensor-hub-firmware",
  "version": "2.4.1",
  "image": "sha256:9f2c4e0b7a1d3c5e8f6a2b4d0c1e3f5a7b9d2c4e6f8a0b1c3d5e7f9a2b4c6d8e",
  "min_version": "2.3.0"
}
EOF
run "cat manifest.json"
run "edgetrust sign device-id --in manifest.json --out manifest.json.sig"

step "Verify it with the stock openssl CLI" \
  "No EdgeTrust code is involved here: openssl checks the signature against the exported key."
run "openssl dgst -sha256 -verify device-id.pub.pem -signature manifest.json.sig manifest.json"

step "Tamper with the manifest" \
  "An attacker downgrades the minimum version. The signature no longer matches, and openssl says so."
run "sed -i 's/\"min_version\": \"2.3.0\"/\"min_version\": \"1.0.0\"/' manifest.json"
if ! run "openssl dgst -sha256 -verify device-id.pub.pem -signature manifest.json.sig manifest.json"; then
  ok "tampered manifest refused, as expected"
else
  echo "demo: openssl accepted a tampered file" >&2
  exit 1
fi

# --- 4. authenticated encryption ------------------------------------------------------------------
step "Create a data-protection key" \
  "An AES-256 key for encrypting telemetry records at rest; like every key, it stays in the daemon."
run "edgetrust key create records --type aes-256"

step "Encrypt a telemetry record, bound to its sensor" \
  "AES-256-GCM with additional authenticated data (AAD) 'sensor-42': the ciphertext can only be" \
  "opened by someone who names the same sensor, so records cannot be swapped between sensors."
cat >telemetry.json <<'EOF'
{"sensor": "sensor-42", "ts": "2024-05-01T12:00:00Z", "temperature_c": 21.7, "humidity_pct": 48}
EOF
run "cat telemetry.json"
run "edgetrust encrypt records --in telemetry.json --out telemetry.enc --aad sensor-42"
run "wc -c telemetry.json telemetry.enc"
ok "the ciphertext is a little larger: it carries the nonce and the authentication tag"
run "od -A x -t x1z -v telemetry.enc | head -n 4"

step "Decrypt it back" \
  "With the right key and the right AAD the record comes back byte for byte."
run "edgetrust decrypt records --in telemetry.enc --out telemetry.dec.json --aad sensor-42"
run "diff telemetry.json telemetry.dec.json"
ok "identical"

step "Decrypt with the wrong AAD" \
  "Claiming the record came from sensor-43 fails the authentication check: nothing is returned."
if ! run "edgetrust decrypt records --in telemetry.enc --out wrong.json --aad sensor-43"; then
  ok "decryption refused, as expected"
else
  echo "demo: decryption with the wrong AAD succeeded" >&2
  exit 1
fi

# --- 5. what is on disk ---------------------------------------------------------------------------
case "$BACKEND" in
  emulated) STATE_NOTE="keys/ holds the key material itself, including the attestation key (created at first start, usable by no caller)." ;;
  tpm) STATE_NOTE="keys/ holds TPM-wrapped blobs: only this TPM can load them. The attestation key is a restricted TPM key." ;;
  pkcs11) STATE_NOTE="keys/ holds only references to token objects; the key material is on the token." ;;
esac
step "Look at the daemon's state folder" \
  "Only the daemon's user can enter it. The device root key file is mode 0600; every other" \
  "object is AES-256-GCM under that root key, bound to its name and owner, so a swapped," \
  "renamed or edited file is refused rather than used." \
  "$STATE_NOTE"
run "ls -l $T/state"
if [[ -d "$T/state/keys" ]]; then
  run "ls -l $T/state/keys"
fi

# --- 6. measurement registers -------------------------------------------------------------------
step "Read the measurement registers" \
  "16 registers, extend-only SHA-256 like TPM PCRs: new = SHA-256(old || digest). They start at" \
  "zero whenever edgetrust-sd starts. Register 0 already holds the daemon's own measurement:" \
  "its version and backend, then the SHA-256 of its configuration (here one policy line). No caller may" \
  "extend register 0. Every extension is recorded in the event log."
run "edgetrust measure read"
run "edgetrust measure log"

step "Measure the application into register 8" \
  "Registers 8-15 are for applications. The sensor-hub application records the SHA-256 of its" \
  "configuration, with a description, before it handles secrets."
run "edgetrust measure extend 8 --data 'sensor-hub 2.4.1 config v7' --event 'sensor-hub 2.4.1, config v7'"

# --- 7. sealing ------------------------------------------------------------------------------------
step "Seal a secret, bound to register 8" \
  "The daemon encrypts the secret for this caller only, and binds it to register 8's current" \
  "value. The blob can be stored anywhere: any change to it is detected."
printf 'db-password: correct horse battery staple\n' >db-password.txt
run "edgetrust seal --in db-password.txt --out db-password.sealed --bind-registers 8"
run "wc -c db-password.txt db-password.sealed"

step "Unseal it" \
  "Same caller, same device, register 8 unchanged: the secret comes back."
run "edgetrust unseal --in db-password.sealed --out db-password.out"
run "diff db-password.txt db-password.out"
ok "identical"

step "Change register 8, then try again" \
  "Something else is measured into register 8 (an unreviewed configuration, say). Registers" \
  "cannot be set back, so the blob no longer opens: the daemon answers failed-precondition" \
  "(error 14), and the CLI prints its reason."
run "edgetrust measure extend 8 --data 'sensor-hub 2.4.1 config v8-unreviewed' --event 'sensor-hub 2.4.1, config v8'"
printf '%s$ %s%s\n' "$DIM" "edgetrust unseal --in db-password.sealed --out db-password.again" "$RESET"
if unseal_out="$(edgetrust unseal --in db-password.sealed --out db-password.again 2>&1)"; then
  echo "demo: unseal succeeded although register 8 changed" >&2
  exit 1
fi
printf '%s\n' "$unseal_out"
[[ "$unseal_out" == *"changed since it was sealed"* ]] || {
  echo "demo: unseal failed, but not because register 8 changed" >&2
  exit 1
}
[[ ! -e db-password.again ]] || { echo "demo: a refused unseal wrote a file" >&2; exit 1; }
ok "unseal refused, as expected; nothing was written"

# --- 8. monotonic counters -----------------------------------------------------------------------
step "Create and increment a monotonic counter" \
  "A counter only goes up. A firmware updater uses one to refuse a rollback to an older version."
run "edgetrust counter create fw-version"
run "edgetrust counter increment fw-version"
run "edgetrust counter increment fw-version"
run "edgetrust counter read fw-version"

if [[ "$BACKEND" == tpm ]]; then
  step "Counters are TPM NV counters" \
    "With a TPM each counter is an NV counter index inside the chip: it cannot be set back, even" \
    "by restoring the whole state folder. tpm2-tools sees the index."
  run "tpm2_getcap handles-nv-index"
else
  step "Counters survive restarts" \
    "Each increment is on disk before it is acknowledged, in two authenticated copies:" \
    "counters.dat and counters.anchor. Restoring, deleting or corrupting one of them is detected" \
    "at the next start, reported, and repaired without going backwards. Restoring both from one" \
    "older copy is not detected; 'edgetrust info' says so on its 'counters:' line. A TPM's NV" \
    "counters close that gap (BACKEND=tpm make demo)."
  run "ls -l $T/state/counters.dat $T/state/counters.anchor"
fi

# --- 9. attestation --------------------------------------------------------------------------------
step "A verifier challenges the device with a fresh nonce" \
  "The verifier picks a random nonce. The device answers with evidence: an Entity Attestation" \
  "Token (RFC 9711) in a COSE_Sign1, signed with the device's attestation key. It carries the" \
  "nonce, every register, the digest of the event log, and the backend ($BACKEND)."
NONCE="$(edgetrust random 16)"
run "echo $NONCE"
if [[ "$BACKEND" == tpm ]]; then
  mkdir quote
  run "edgetrust attest --nonce $NONCE --out evidence.cbor --tpm-quote quote"
  run "wc -c evidence.cbor"
  step "Check the TPM quote with tpm2-tools" \
    "The evidence also carries a TPM2 quote over PCR 23, where the daemon mirrors every register" \
    "extension, with the nonce as qualifying data, signed by the TPM's restricted attestation" \
    "key. tpm2_checkquote, which knows nothing of EdgeTrust, checks it."
  run "ls quote"
  run "tpm2_checkquote -u quote/ak.pem -m quote/quote.msg -s quote/quote.sig -f quote/quote.pcrs -g sha256 -q $NONCE"
  ok "the TPM vouches for the quote"
  printf '%s$ %s%s\n' "$DIM" "tpm2_checkquote ... -q <another nonce>" "$RESET"
  if tpm2_checkquote -u quote/ak.pem -m quote/quote.msg -s quote/quote.sig -f quote/quote.pcrs \
      -g sha256 -q "$(edgetrust random 16)" >/dev/null 2>&1; then
    echo "demo: tpm2_checkquote accepted another nonce" >&2
    exit 1
  fi
  ok "and refuses it for another nonce"
else
  run "edgetrust attest --nonce $NONCE --out evidence.cbor"
  run "wc -c evidence.cbor"
fi

step "Export what the verifier needs" \
  "The attestation public key, once per device, over a channel the verifier trusts; and the" \
  "event log, with each challenge, so the verifier can replay it against the registers."
run "edgetrust attest key --out attest.pem"
run "cat attest.pem"
run "edgetrust measure log --out log.json"

ALLOW_EMULATED=false
REQUIRE_QUOTE=false
case "$BACKEND" in
  emulated) ALLOW_EMULATED=true
            REF_NOTE="For this demo only, evidence from the emulated backend is allowed: without allow_emulated the verifier refuses it." ;;
  tpm) REQUIRE_QUOTE=true
       REF_NOTE="Emulated evidence is refused, and a verified TPM quote is required." ;;
  pkcs11) REF_NOTE="Emulated evidence is refused; this evidence is signed by a key on the token." ;;
esac
step "Write the reference values" \
  "What the verifier expects: register 8 as measured now (taken from 'measure read --json')," \
  "evidence at most 5 minutes old." "$REF_NOTE"
REG8="$(edgetrust --json measure read | python3 -c 'import json, sys; print(json.load(sys.stdin)["registers"]["8"])')"
cat >reference.json <<EOF
{
  "registers": {"8": "$REG8"},
  "allow_emulated": $ALLOW_EMULATED,
  "require_tpm_quote": $REQUIRE_QUOTE,
  "max_age_seconds": 300
}
EOF
run "cat reference.json"

step "Verify the evidence" \
  "verify-evidence needs no daemon: it checks the signature, the nonce, that the log replays to" \
  "the registers, and the reference values, as a cloud verifier would."
run "edgetrust verify-evidence --evidence evidence.cbor --key attest.pem --nonce $NONCE --log log.json --reference reference.json"
ok "evidence accepted"

step "Verify it against another nonce" \
  "An attacker replays this evidence to answer a new challenge. The nonce does not match, so" \
  "the verifier refuses it."
WRONG_NONCE="$(edgetrust random 16)"
printf '%s$ %s%s\n' "$DIM" "edgetrust verify-evidence --evidence evidence.cbor --key attest.pem --nonce $WRONG_NONCE --log log.json --reference reference.json" "$RESET"
if verify_out="$(edgetrust verify-evidence --evidence evidence.cbor --key attest.pem \
    --nonce "$WRONG_NONCE" --log log.json --reference reference.json 2>&1)"; then
  printf '%s\n' "$verify_out"
  echo "demo: evidence verified against the wrong nonce" >&2
  exit 1
fi
printf '%s\n' "$verify_out"
[[ "$verify_out" == *"evidence: FAIL"* ]] || {
  echo "demo: verify-evidence failed, but did not say FAIL" >&2
  exit 1
}
ok "replayed evidence refused, as expected"

# --- 10. mutual TLS with keys that never leave the secure domain --------------------------------
MODULES="$(cd "$BIN/../lib/ossl-modules" 2>/dev/null && pwd)" || {
  echo "demo: the edgetrust OpenSSL provider module is missing next to $BIN (make build)" >&2
  exit 1
}
PROV="-provider-path $MODULES -provider edgetrust -provider default"
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

step "Issue a certificate for a leaf sensor" \
  "A sensor key is created in the secure domain and a CSR made for it. The local device CA" \
  "issues a client certificate. A sensor with a secure element of its own would make the CSR" \
  "there, and only the CSR would come to the gateway."
run "edgetrust cert csr sensor-1 --subject /CN=sensor-1/O=EdgeTrust --out sensor-1.csr"
run "openssl req -in sensor-1.csr -verify -noout"
run "edgetrust cert issue --ca device-ca --csr sensor-1.csr --days 30 --client --out sensor-1.pem"
run "openssl verify -CAfile $CERTS/device-ca/current/cert.pem sensor-1.pem"

step "Mutual TLS, both private keys in the secure domain" \
  "Stock openssl on both ends, with our provider loaded: s_server serves TLS 1.3 with the device" \
  "key (-key edgetrust:device-id) and requires a client certificate from the device CA; s_client" \
  "connects with the sensor key (-key edgetrust:sensor-1). Neither program ever holds a private" \
  "key: each signature of the handshake is made inside the secure domain."
TLS_PORT="$(free_port)"
run "openssl s_server $PROV -accept 127.0.0.1:$TLS_PORT -tls1_3 -naccept 1 -rev -key edgetrust:device-id -cert $CERTS/device-id/current/cert.pem -CAfile $CERTS/device-ca/current/cert.pem -Verify 1 -verify_return_error >s_server.log 2>&1 &"
S_SERVER_PID=$!
for _ in $(seq 100); do  # s_server accepts one connection (-naccept 1): no probing it
  grep -q ACCEPT s_server.log 2>/dev/null && break
  sleep 0.1
done
printf '    %s\n' "The sensor sends a reading over the link; the server (-rev) answers it reversed."
run "(echo 'reading 21.5 C'; sleep 1) | timeout 10 openssl s_client $PROV -connect 127.0.0.1:$TLS_PORT -tls1_3 -key edgetrust:sensor-1 -cert sensor-1.pem -CAfile $CERTS/device-ca/current/cert.pem -verify_return_error -verify_hostname gw-demo-01 -quiet -no_ign_eof 2>/dev/null"
wait "$S_SERVER_PID" 2>/dev/null || true
run "grep -E 'Peer certificate|Verification' s_server.log"
grep -q "CN = sensor-1" s_server.log || { echo "demo: the server did not see the sensor's certificate" >&2; exit 1; }
ok "the server verified the sensor's certificate; the sensor verified the gateway's"

step "Try to take the device key out" \
  "Asking OpenSSL to write the device key out as a private key gives only its EDGETRUST KEY" \
  "reference: the provider never exports a private key, and the daemon never hands one out."
run "openssl pkey $PROV -in edgetrust:device-id -out stolen.pem"
run "cat stolen.pem"
if grep -q "PRIVATE KEY" stolen.pem; then
  echo "demo: openssl wrote out a private key" >&2
  exit 1
fi
ok "no key material came out, only the key's name"

# --- the gateway: sensors -> edgetrust-agent -> cloud ---------------------------------------------
if [[ -x "$BIN/edgetrust-agent" && -x "$BIN/edgetrust-sensor" ]] && command -v mosquitto >/dev/null; then
GATEWAY=1
step "The cloud: an MQTT broker with mutual TLS" \
  "A stock mosquitto plays the cloud (Azure IoT Hub-style or any broker). It has its own CA;" \
  "it accepts clients whose certificates chain to its CA or to our device CA. The gateway is" \
  "told to trust the cloud's CA for purpose 'cloud', and for nothing else."
run "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cloud-ca.key -out cloud-ca.pem -subj '/CN=Demo Cloud CA' -days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null"
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >app.ext
for n in broker app; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj "/CN=$n" 2>/dev/null
  openssl x509 -req -in $n.csr -CA cloud-ca.pem -CAkey cloud-ca.key -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile $n.ext -out $n.pem 2>/dev/null
done
chmod 0644 ./*.key
cat cloud-ca.pem "$CERTS/device-ca/current/cert.pem" >cloud-clients.pem
CLOUD_PORT="$(free_port)"
mkdir -p cloud-db
cat >cloud.conf <<CONF
user root
per_listener_settings false
allow_anonymous true
persistence true
persistence_location $T/cloud-db/
autosave_interval 1
max_queued_messages 0
listener $CLOUD_PORT 127.0.0.1
cafile $T/cloud-clients.pem
certfile $T/broker.pem
keyfile $T/broker.key
require_certificate true
CONF
start_cloud() {
  mosquitto -c cloud.conf >>cloud.log 2>&1 &
  CLOUD_PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$CLOUD_PORT") 2>/dev/null && break; sleep 0.1; done
}
run "start_cloud"
run "edgetrust trust add --purpose cloud cloud-ca.pem"
ok "cloud broker on 127.0.0.1:$CLOUD_PORT, mutual TLS"

step "A cloud application subscribes" \
  "mosquitto_sub with its own certificate, QoS 1 and a persistent session, so that it misses" \
  "nothing while the broker is down and back."
run "mosquitto_sub -h 127.0.0.1 -p $CLOUD_PORT --cafile cloud-ca.pem --cert app.pem --key app.key -i cloud-app -c -q 1 -t 'gateways/#' -v >cloud.out 2>cloud-sub.log &"
SUB_PID=$!
sleep 0.5

step "Start the gateway agent" \
  "edgetrust-agent links the gateway to the cloud over mutual TLS with the device key, which" \
  "stays in the secure domain (our provider signs the handshake there), and opens the leaf hub," \
  "a TLS listener for sensors. Messages are kept in an encrypted, durable queue (its data key" \
  "sealed by the secure domain) until the cloud acknowledges them."
HUB_PORT="$(free_port)"
cat >agent.toml <<CONF
[agent]
state_dir = "$T/agent"
sd_socket = "$EDGETRUST_SOCKET"
cert_dir = "$CERTS"
control_socket = "$T/agent.sock"
[cloud]
host = "127.0.0.1"
port = $CLOUD_PORT
backoff_min_ms = 200
backoff_max_ms = 2000
[leaf_hub]
listen = "127.0.0.1:$HUB_PORT"
CONF
export EDGETRUST_AGENT_SOCKET="$T/agent.sock"
start_agent() {
  edgetrust-agent --config agent.toml >>agent.log 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 200); do grep -q "event=ready" agent.log 2>/dev/null && [[ $(grep -c "event=ready" agent.log) -ge "$1" ]] && break; sleep 0.05; done
}
run "start_agent 1"
for _ in $(seq 100); do grep -q "event=cloud-connected" agent.log && break; sleep 0.1; done
run "grep -E 'event=(ready|cloud-connected|hub-listening)' agent.log | cut -c 1-160"
run "edgetrust status"

step "A sensor enrolls" \
  "The operator adds a sensor and gets a one-time token, which expires. The sensor generates" \
  "its own key, sends a CSR with the token once, and gets a certificate from the device CA. It" \
  "then connects with mutual TLS. The token cannot be used again."
run "edgetrust leaf add sensor-7 --json | tee leaf.json"
TOKEN="$(python3 -c 'import json;print(json.load(open("leaf.json"))["token"])')"
SENSOR=(edgetrust-sensor --gateway "127.0.0.1:$HUB_PORT" --ca "$CERTS/device-ca/current/cert.pem" --server-name gw-demo-01 --name sensor-7)
run "${SENSOR[*]} --enroll $TOKEN --state sensor-7 --count 5 --rate 10"
run "openssl x509 -in sensor-7/cert.pem -noout -subject -issuer"
run "${SENSOR[*]} --enroll $TOKEN --state sensor-7-again --count 1 || true"
ok "the token worked once"

step "Readings reach the cloud" \
  "Each message carries the sensor's name as the gateway authenticated it (never as the payload" \
  "claims) and a per-sensor sequence number, so the cloud can drop duplicates."
for _ in $(seq 100); do [[ $(wc -l <cloud.out) -ge 5 ]] && break; sleep 0.1; done
run "head -n 2 cloud.out"

step "The cloud goes away, the sensor keeps sending" \
  "The broker stops. The gateway acknowledges each reading once it is durably stored, so the" \
  "sensor is not held up, and the queue grows."
run "kill -TERM $CLOUD_PID; wait $CLOUD_PID 2>/dev/null || true"
run "${SENSOR[*]} --state sensor-7 --count 200 --rate 40 --quiet >sensor.log 2>&1 &"
SENSOR_PID=$!
sleep 3
run "edgetrust status | grep -iE 'cloud|queue|depth|state' | head -n 8"

step "The gateway crashes" \
  "kill -9 of the agent in the middle of the stream, and a restart: what it acknowledged is" \
  "in its queue, and the sensor resends what was not acknowledged."
run "kill -KILL $AGENT_PID; wait $AGENT_PID 2>/dev/null || true"
run "start_agent 2"

step "The cloud comes back, the queue drains" \
  "The broker restarts on the same port; the agent reconnects (jittered backoff) and delivers"\
  "the queue. Nothing acknowledged is lost."
run "start_cloud"
wait "$SENSOR_PID" || { echo "demo: the sensor did not get every reading acknowledged" >&2; tail sensor.log >&2; exit 1; }
run "tail -n 1 sensor.log"
for _ in $(seq 300); do
  python3 - <<'PY' && break
import json, sys
seen = set()
for line in open("cloud.out"):
    try:
        j = json.loads(line.split(" ", 1)[1])
        seen.add(j["data"]["n"])
    except Exception:
        pass
sys.exit(0 if all(n in seen for n in range(1, 201)) else 1)
PY
  sleep 0.2
done
run "python3 -c \"import json; s={json.loads(l.split(' ',1)[1])['data']['n'] for l in open('cloud.out') if ' ' in l}; print(f'cloud has {len(s & set(range(1,201)))} of the 200 readings sent through the outage and the crash')\""
run "edgetrust status | grep -iE 'cloud|queue|depth' | head -n 6"
ok "every reading arrived"

# --- 12. containers: signed deployment, attestation, malware detection and self-healing ----------
DOCKERD="$(command -v dockerd || true)"
if [[ -n "$DOCKERD" && -x /usr/bin/docker && -x /bin/busybox ]] && (($(id -u) == 0)); then
step "Start a Docker engine for the modules" \
  "The gateway runs its applications as containers (modules). This demo starts its own dockerd" \
  "in the scratch folder, with no bridge network and no iptables changes; modules get network" \
  "'none'. The container guard talks to the engine's API over its Unix socket."
DEXEC="$(mktemp -d /tmp/etd-demo.XXXX)"
DSOCK="$DEXEC/d.sock"
run "$DOCKERD --bridge=none --iptables=false --ip6tables=false --storage-driver=overlay2 --data-root $T/docker --exec-root $DEXEC --pidfile $DEXEC/d.pid -H unix://$DSOCK >dockerd.log 2>&1 &"
DOCKERD_PID=$!
DOCKER=(/usr/bin/docker -H "unix://$DSOCK")
for _ in $(seq 300); do "${DOCKER[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${DOCKER[@]}" version >/dev/null 2>&1 || { echo "demo: dockerd did not start" >&2; tail dockerd.log >&2; exit 1; }
ok "Docker engine on $DSOCK"

step "Build a module image offline" \
  "A root filesystem with busybox and one application script, imported as an image. Its id is" \
  "the SHA-256 of its configuration, which covers every layer: that is what a manifest pins."
mkdir -p rootfs/bin rootfs/app rootfs/etc rootfs/tmp rootfs/data
cp /bin/busybox rootfs/bin/busybox
for a in sh sleep echo cat ls chmod cp; do ln -sf busybox "rootfs/bin/$a"; done
printf '#!/bin/sh\necho "filter: reading processed"\n' >rootfs/app/filter && chmod 0755 rootfs/app/filter
echo 'root:x:0:0:root:/:/bin/sh' >rootfs/etc/passwd
run "tar -C rootfs -cf rootfs.tar . && ${DOCKER[*]} import rootfs.tar demo/filter:1 | tee image.id"
IMAGE="$(cat image.id)"

step "The operator signs a deployment manifest" \
  "The operator's deployment CA is trusted by the device for purpose 'deployment'. The manifest" \
  "pins the image by digest and declares a tmpfs for scratch data and the integrity and" \
  "remediation policy (the root filesystem is left writable here, so that the attacker below" \
  "has somewhere to write). 'edgetrust manifest sign' makes a detached CMS signature" \
  "that the stock openssl CLI verifies too."
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout deploy-ca.key \
  -out deploy-ca.pem -days 30 -subj "/CN=Demo Deployment CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ops.key -out ops.csr \
  -subj "/CN=release engineering" 2>/dev/null
printf 'keyUsage=critical,digitalSignature\n' >ops.ext
openssl x509 -req -in ops.csr -CA deploy-ca.pem -CAkey deploy-ca.key -CAcreateserial -out ops.pem \
  -days 30 -extfile ops.ext 2>/dev/null
run "edgetrust trust add --purpose deployment deploy-ca.pem"
cat >manifest.json <<JSON
{
  "format": "edgetrust-deployment/1",
  "deployment": "line-a",
  "sequence": 1,
  "modules": [
    {
      "name": "filter",
      "image": "$IMAGE",
      "command": ["/bin/sh", "-c", "while true; do /app/filter >/dev/null; sleep 1; done"],
      "read_only_rootfs": false,
      "writable": [{"path": "/data", "type": "tmpfs", "size_mb": 8}],
      "integrity": {"mode": "detect"},
      "remediation": {"action": "restart"}
    }
  ]
}
JSON
run "cat manifest.json"
run "edgetrust manifest sign --manifest manifest.json --key ops.key --cert ops.pem --out manifest.sig"
run "openssl cms -verify -binary -inform DER -in manifest.sig -content manifest.json -CAfile deploy-ca.pem -purpose any -out /dev/null"

step "Turn on the container guard and deploy" \
  "The agent restarts with [containers] enabled. 'edgetrust deploy' hands it the manifest: it" \
  "checks the signature against the deployment bundle, that the sequence is newer than the last" \
  "one accepted (a secure-domain counter), and the image's digest; then it creates the module," \
  "measures what actually runs into register 2 and watches its filesystem with fanotify."
cat >>agent.toml <<CONF
[containers]
enabled = true
docker_socket = "$DSOCK"
CONF
run "kill -TERM $AGENT_PID; wait $AGENT_PID 2>/dev/null || true"
run "start_agent 3"
run "edgetrust deploy --manifest manifest.json --sig manifest.sig"
run "edgetrust modules"

step "A replayed manifest and a forged one are refused" \
  "The same manifest again is not newer; a manifest edited after signing does not verify."
run "edgetrust deploy --manifest manifest.json --sig manifest.sig || true"
sed 's/"restart"/"alert"/' manifest.json >forged.json
run "edgetrust deploy --manifest forged.json --sig manifest.sig || true"

step "Malware is injected into the running module" \
  "An attacker with a shell in the container drops a binary and runs it. The write reaches the" \
  "guard from the kernel within milliseconds; the module is killed and recreated from its pinned" \
  "image, and the cloud is told."
CID="$(edgetrust modules --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["modules"][0]["container"])')"
run "${DOCKER[*]} exec $CID /bin/sh -c 'cp /bin/busybox /bin/miner && /bin/miner echo mining' || true"
for _ in $(seq 100); do edgetrust events | grep -q "remediated" && break; sleep 0.1; done
run "edgetrust events"
run "edgetrust modules"
NEW="$(edgetrust modules --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["modules"][0]["container"])')"
run "${DOCKER[*]} exec $NEW /bin/sh -c 'ls /bin/miner || echo \"no /bin/miner in the recreated module\"'"
for _ in $(seq 100); do grep -q '_gateway/events/container.*remediated' cloud.out && break; sleep 0.1; done
run "grep '_gateway/events/container' cloud.out | grep -E 'violation|remediated' | cut -c 1-220"
ok "detected, recreated from the known-good image, reported to the cloud"

step "Enforce: the injected binary never runs" \
  "A second deployment (sequence 2) sets the module's integrity mode to 'enforce': the kernel asks" \
  "the guard before any file in the container is executed, and anything that is not part of the" \
  "image is refused. The module's own programs keep running."
sed -e 's/"sequence": 1/"sequence": 2/' -e 's/"mode": "detect"/"mode": "enforce"/' \
  -e 's/"action": "restart"/"action": "alert"/' manifest.json >manifest2.json
run "edgetrust manifest sign --manifest manifest2.json --key ops.key --cert ops.pem --out manifest2.sig"
run "edgetrust deploy --manifest manifest2.json --sig manifest2.sig"
CID="$(edgetrust modules --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["modules"][0]["container"])')"
run "${DOCKER[*]} exec $CID /bin/sh -c 'cp /bin/busybox /bin/miner; /bin/miner echo mining' || true"
run "${DOCKER[*]} exec $CID /app/filter"
run "edgetrust events --limit 3"

step "Evidence proves which containers run" \
  "A verifier computes reference values from the signed manifests alone (both deployments since" \
  "the secure domain started) and appraises fresh" \
  "evidence: it passes. Then someone starts a container by hand; the guard measures it into" \
  "register 2, and the same check fails."
run "edgetrust manifest reference --manifest manifest.json --manifest manifest2.json --allow-emulated >containers-ref.json"
check_containers() {
  local nonce; nonce="$(edgetrust random 16)"
  edgetrust attest --nonce "$nonce" --out c-evidence.cbor
  edgetrust measure log --out c-log.json
  edgetrust verify-evidence --evidence c-evidence.cbor --key attest.pem --nonce "$nonce" \
    --log c-log.json --reference containers-ref.json
}
run "check_containers | head -n 1"
run "${DOCKER[*]} run -d --network none --name by-hand $IMAGE /bin/sleep 600"
for _ in $(seq 100); do edgetrust events | grep -q "unmanaged-container" && break; sleep 0.1; done
run "check_containers | head -n 3 || true"
ok "an undeclared container makes the evidence fail"
"${DOCKER[@]}" rm -f $("${DOCKER[@]}" ps -aq) >/dev/null 2>&1 || true
else
  step "Containers (skipped)" "The container guard needs root and a Docker engine (docker.io); neither is here."
fi
fi

# --- summary ----------------------------------------------------------------------------------------
step "Summary" \
  "- edgetrust-sd ran as an unprivileged daemon on a Unix socket, with the $BACKEND backend." \
  "- The device was provisioned: identity and device CA keys inside it, certificates that the" \
  "  stock openssl CLI verified; only public keys came out, and openssl verified a signature" \
  "  made with the device key, and refused the tampered file." \
  "- An AES-256 key encrypted a telemetry record bound to its sensor; the wrong AAD was refused." \
  "- At rest, the daemon keeps only encrypted, authenticated objects." \
  "- Register 0 held the daemon's own measurement; the application measured itself into" \
  "  register 8. A secret sealed to register 8 opened, then was refused once register 8 changed." \
  "- A monotonic counter went up; it never goes back, across restarts too." \
  "- Evidence for a fresh nonce passed verify-evidence against reference values; the same" \
  "  evidence against another nonce failed." \
  "- The local CA issued a sensor certificate, and stock openssl ran mutual TLS 1.3 with both" \
  "  private keys in the secure domain (through the edgetrust OpenSSL provider); asking OpenSSL" \
  "  to write the device key out got only its name." \
  "- The gateway agent linked to a mutual-TLS cloud broker with the device key in the secure" \
  "  domain; a sensor enrolled with a one-time token; its readings reached the cloud through a" \
  "  cloud outage and a kill -9 of the agent, with nothing lost." \
  "- A module deployed from a signed, fresh manifest (image pinned by digest) was measured into" \
  "  register 2; malware injected into it was detected within milliseconds, the module recreated" \
  "  from its known-good image and the cloud told; in enforce mode the injected binary never" \
  "  ran; evidence verified against the manifest's reference values until a container was" \
  "  started by hand." \
  "" \
  "Run it on the other backends: BACKEND=tpm make demo, BACKEND=pkcs11 make demo." \
  "More: 'edgetrust --help', docs/ (docs/THREAT_MODEL.md for what each backend protects," \
  "docs/attestation.md for the evidence, docs/tpm.md and docs/pkcs11.md for the hardware," \
  "docs/openssl-provider.md and docs/identity.md for keys in TLS and certificates)."
