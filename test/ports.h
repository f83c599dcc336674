// Loopback TCP ports for servers the tests start (swtpm, mosquitto, openssl s_server): all traffic
// stays on 127.0.0.1 (BRIEF.md section 5).
//
// Ports are picked at random below the kernel's ephemeral range (ip_local_port_range, 32768 and
// up), not by binding port 0. The client side of every closed loopback connection sits in
// TIME-WAIT on an ephemeral port for a minute, and tpm2-tss's swtpm TCTI opens one connection per
// TPM command: a busy test run leaves tens of thousands of them, enough to exhaust the ephemeral
// range so that binding port 0 fails. Below it, a port is only taken by a listening server.
//
// A picked port is free when it is picked, not when the server binds it: another test may take it
// in between. Servers started on a picked port must detect that (the server exits with "address in
// use", or another process answers) and pick again, as SwtpmProcess and MosquittoProcess do.
#pragma once

namespace edgetrust::test {

// A port of 127.0.0.1 in [20000, 32000) that could be bound a moment ago, or -1 if none was
// found in many tries.
int PickLoopbackPort();
// Two such ports P and P + 1 (swtpm: the TCTI finds the control channel at the server port + 1).
int PickLoopbackPortPair();

// Whether a TCP connection to 127.0.0.1:port is accepted (closed again at once).
bool LoopbackAccepts(int port);

}  // namespace edgetrust::test
