// Loopback TCP ports for servers the tests start (mosquitto, openssl s_server): all traffic stays
// on 127.0.0.1 (BRIEF.md section 5).
//
// A picked port is free when it is picked, not when the server binds it: another test may take it
// in between. Servers started on a picked port must detect that (the server exits with "address in
// use", or another process answers) and pick again, as SwtpmProcess and MosquittoProcess do.
#pragma once

namespace edgetrust::test {

// A port that was free on 127.0.0.1 a moment ago (the kernel's choice for port 0, released), or
// -1 when no socket could be bound.
int PickLoopbackPort();

// Whether a TCP connection to 127.0.0.1:port is accepted (closed again at once).
bool LoopbackAccepts(int port);

}  // namespace edgetrust::test
