// tls connect | serve: one TLS handshake with a tracked identity and a trust bundle, to see what
// the agent's TLS would see (protocol, cipher, the peer and its chain, and why verification
// failed when it does).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/identity_support.h"
#include "cli/io.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "identity/certificate.h"
#include "identity/subject.h"
#include "identity/tls_context.h"

namespace edgetrust::cli {
namespace {

using nlohmann::json;

struct TlsCommandOptions {
  std::string cert_dir;
  std::string target;
  std::string identity;
  std::string trust;
  std::string servername;
  int timeout = 10;
  uint16_t port = 0;
  bool require_client_cert = false;
  bool once = false;
};

using Fd = UniqueFd;  // closes the descriptor on every path out

Status Unavailable(const std::string& what) { return Status(ErrorCode::kUnavailable, what); }

// "host:port", "[v6]:port".
Result<std::pair<std::string, std::string>> SplitHostPort(const std::string& target) {
  std::string host, port;
  if (!target.empty() && target[0] == '[') {
    auto close = target.find(']');
    if (close == std::string::npos || close + 1 >= target.size() || target[close + 1] != ':') {
      return Status(ErrorCode::kInvalidArgument, "expected [ADDRESS]:PORT, got " + target);
    }
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
  } else {
    auto colon = target.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return Status(ErrorCode::kInvalidArgument, "expected HOST:PORT, got " + target);
    }
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
    return Status(ErrorCode::kInvalidArgument, "invalid port \"" + port + "\"");
  }
  return std::make_pair(host, port);
}

void SetTimeouts(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A TCP connection, trying every address of the name, each within `timeout` seconds.
Result<Fd> Dial(const std::string& host, const std::string& port, int timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Unavailable("cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (fd.get() < 0) continue;
    int rc = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd.get(), POLLOUT, 0};
      rc = ::poll(&p, 1, timeout * 1000);
      if (rc == 0) {
        last = "timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last = ErrnoText(errno);
      continue;
    }
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    SetTimeouts(fd.get(), timeout);
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  return Unavailable("cannot connect to " + host + ":" + port + ": " + last);
}

// Whether the first queued error is the peer's alert refusing our certificate.
bool PeerRefusedOurCertificate() {
  switch (ERR_GET_REASON(ERR_peek_error())) {
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
      return true;
    default:
      return false;
  }
}

// The OpenSSL error queue as one line.
std::string SslErrors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A000086:SSL routines::certificate verify failed" -> the reason after "::".
    std::string s = buf;
    auto pos = s.rfind(':');
    if (pos != std::string::npos) s = s.substr(pos + 1);
    if (!text.empty()) text += "; ";
    text += s;
  }
  return text.empty() ? "connection closed by the peer" : text;
}

json CertJson(const X509* c) {
  return {{"subject", identity::DisplayName(X509_get_subject_name(c))},
          {"issuer", identity::DisplayName(X509_get_issuer_name(c))},
          {"not_after", identity::NotAfter(c)},
          {"fingerprint", identity::Fingerprint(c)}};
}

// Waits briefly for what a TLS 1.3 server sends after the handshake: a refusal of our certificate
// comes as an alert only then, after the client already considers the handshake done.
Status CheckPostHandshake(SSL* ssl, int fd) {
  SetTimeouts(fd, 1);
  char byte;
  ERR_clear_error();
  const int n = SSL_peek(ssl, &byte, 1);
  if (n > 0) return Status::Ok();
  const int err = SSL_get_error(ssl, n);
  if (err == SSL_ERROR_SSL) {
    const bool refused = PeerRefusedOurCertificate();  // before SslErrors() empties the queue
    return Status(ErrorCode::kVerifyFailed,
                  std::string(refused ? "the server refused our certificate"
                                      : "the server ended the connection") +
                      " after the handshake: " + SslErrors());
  }
  ERR_clear_error();
  return Status::Ok();  // nothing yet, a timeout, or a clean close: the handshake stands
}

Status Connect(Context& ctx, const TlsCommandOptions& o) {
  ET_ASSIGN_OR_RETURN(auto hp, SplitHostPort(o.target));
  identity::TlsOptions tls;
  tls.role = identity::TlsRole::kClient;
  tls.identity = o.identity;
  ET_ASSIGN_OR_RETURN(tls.trust, identity::ParseTrustPurpose(o.trust));
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  ET_ASSIGN_OR_RETURN(SslCtxPtr ssl_ctx, identity::BuildTlsContext(store, *keys, tls));
  ::signal(SIGPIPE, SIG_IGN);
  ET_ASSIGN_OR_RETURN(Fd fd, Dial(hp.first, hp.second, o.timeout));
  SslPtr ssl(SSL_new(ssl_ctx.get()));
  if (!ssl) return Status(ErrorCode::kInternal, "SSL_new failed");
  const std::string server_name = o.servername.empty() ? hp.first : o.servername;
  ET_RETURN_IF_ERROR(identity::SetPeerName(ssl.get(), server_name));
  SSL_set_fd(ssl.get(), fd.get());
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    const std::string why = identity::VerifyFailure(ssl.get());
    if (!why.empty()) {
      return Status(ErrorCode::kVerifyFailed,
                    "certificate verification of " + o.target + " failed: " + why);
    }
    if (PeerRefusedOurCertificate()) {
      return Status(ErrorCode::kVerifyFailed, "the server refused our certificate: " + SslErrors());
    }
    return Unavailable("TLS handshake with " + o.target + " failed: " + SslErrors());
  }
  ET_RETURN_IF_ERROR(CheckPostHandshake(ssl.get(), fd.get()));

  const std::string protocol = SSL_get_version(ssl.get());
  const std::string cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()));
  X509* peer = SSL_get0_peer_certificate(ssl.get());
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl.get());
  json chain_json = json::array();
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    chain_json.push_back(CertJson(sk_X509_value(chain, i)));
  }
  const std::string peer_subject =
      peer != nullptr ? identity::DisplayName(X509_get_subject_name(peer)) : "";
  SSL_shutdown(ssl.get());
  if (ctx.out().json()) {
    ctx.out().Json({{"target", o.target},
                    {"server_name", server_name},
                    {"protocol", protocol},
                    {"cipher", cipher},
                    {"peer", peer_subject},
                    {"chain", chain_json},
                    {"verified", true},
                    {"trust", o.trust},
                    {"identity", o.identity}});
    return Status::Ok();
  }
  ctx.out().Line("connected to " + o.target + " (verified as " + server_name + " against the " +
                 o.trust + " bundle)");
  ctx.out().Line("protocol: " + protocol);
  ctx.out().Line("cipher:   " + cipher);
  ctx.out().Line("peer:     " + peer_subject);
  ctx.out().Line("chain:");
  for (size_t i = 0; i < chain_json.size(); ++i) {
    ctx.out().Line("  " + std::to_string(i) + " " + chain_json[i]["subject"].get<std::string>() +
                   "  (issuer " + chain_json[i]["issuer"].get<std::string>() + ", not after " +
                   FormatTimeOrDash(chain_json[i]["not_after"].get<int64_t>()) + ")");
  }
  ctx.out().Line("our certificate: " + (o.identity.empty() ? std::string("none") : o.identity));
  return Status::Ok();
}

// One accepted connection: the handshake and a greeting. Its outcome as JSON (and a Status).
Status ServeOne(Context& ctx, SSL_CTX* ssl_ctx, int fd, const std::string& from) {
  SetTimeouts(fd, 10);
  SslPtr ssl(SSL_new(ssl_ctx));
  if (!ssl) return Status(ErrorCode::kInternal, "SSL_new failed");
  SSL_set_fd(ssl.get(), fd);
  ERR_clear_error();
  Status result;
  json line = {{"from", from}};
  if (SSL_accept(ssl.get()) != 1) {
    const std::string why = identity::VerifyFailure(ssl.get());
    const std::string reason =
        why.empty() ? "TLS handshake failed: " + SslErrors() : "client certificate refused: " + why;
    result = Status(ErrorCode::kVerifyFailed, reason + " (connection from " + from + ")");
    line["accepted"] = false;
    line["error"] = reason;
  } else {
    X509* peer = SSL_get0_peer_certificate(ssl.get());
    const std::string subject =
        peer != nullptr ? identity::DisplayName(X509_get_subject_name(peer)) : "";
    line["accepted"] = true;
    line["protocol"] = SSL_get_version(ssl.get());
    line["cipher"] = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()));
    line["peer"] = subject;
    const std::string hello = "edgetrust tls serve: hello " +
                              (subject.empty() ? std::string("anonymous") : subject) + "\n";
    SSL_write(ssl.get(), hello.data(), static_cast<int>(hello.size()));
    SSL_shutdown(ssl.get());
  }
  if (ctx.out().json()) {
    ctx.out().Json(line);
  } else if (line["accepted"].get<bool>()) {
    const std::string peer = line["peer"].get<std::string>();
    ctx.out().Line("connection from " + from + ": " + line["protocol"].get<std::string>() + " " +
                   line["cipher"].get<std::string>() + ", client " +
                   (peer.empty() ? std::string("without a certificate") : peer + " (verified)"));
  } else {
    ctx.out().Line("connection from " + from + ": refused: " + line["error"].get<std::string>());
  }
  ET_RETURN_IF_ERROR(FlushStdout());
  return result;
}

Status Serve(Context& ctx, const TlsCommandOptions& o) {
  identity::TlsOptions tls;
  tls.role = identity::TlsRole::kServer;
  tls.identity = o.identity;
  if (!o.trust.empty()) {
    ET_ASSIGN_OR_RETURN(tls.trust, identity::ParseTrustPurpose(o.trust));
  }
  tls.require_client_cert = o.require_client_cert;
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  ET_ASSIGN_OR_RETURN(SslCtxPtr ssl_ctx, identity::BuildTlsContext(store, *keys, tls));
  ::signal(SIGPIPE, SIG_IGN);

  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) return Status(ErrorCode::kIoError, "socket: " + ErrnoText(errno));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(o.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only: a diagnostic, not a service
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 16) != 0) {
    return Status(ErrorCode::kUnavailable,
                  "cannot listen on 127.0.0.1:" + std::to_string(o.port) + ": " + ErrnoText(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  if (!ctx.out().json()) {
    ctx.out().Line("listening on 127.0.0.1:" + std::to_string(port) + " as " + o.identity +
                   (tls.trust ? ", verifying clients against the " + o.trust + " bundle" : "") +
                   (o.require_client_cert ? " (client certificate required)" : ""));
    ET_RETURN_IF_ERROR(FlushStdout());
  }
  for (;;) {
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    Fd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC));
    if (conn.get() < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return Status(ErrorCode::kIoError, "accept: " + ErrnoText(errno));
    }
    char ip[INET_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    Status st = ServeOne(ctx, ssl_ctx.get(), conn.get(),
                         std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port)));
    if (o.once) return st;
  }
}

}  // namespace

void AddTlsCommands(CLI::App& app, Selection& selection) {
  // One options object per command: CLI11 writes defaults into the variables when options are
  // defined, so commands sharing one would see each other's defaults.
  auto o = std::make_shared<TlsCommandOptions>();
  auto so = std::make_shared<TlsCommandOptions>();
  CLI::App* tls = app.add_subcommand(
      "tls", "TLS diagnostics with a tracked identity and a trust bundle, as the agent does TLS");
  tls->require_subcommand(1);
  tls->footer(
      "TLS 1.2 at least, 1.3 preferred; the private key stays in the secure domain (edgetrust\n"
      "OpenSSL provider). Peers are always verified against a trust bundle (edgetrust trust).");

  CLI::App* connect =
      tls->add_subcommand("connect", "One TLS handshake with a server, verified, then report it");
  AddCertDirOption(connect, o->cert_dir);
  connect->add_option("TARGET", o->target, "HOST:PORT or [ADDRESS]:PORT")->required();
  connect->add_option("--identity", o->identity,
                      "Tracked identity to present as client certificate (default: none)");
  connect->add_option("--trust", o->trust, "Trust purpose verifying the server")
      ->default_val("cloud");
  connect->add_option("--servername", o->servername,
                      "Name the server's certificate must carry, sent as SNI (default: HOST)");
  connect->add_option("--timeout", o->timeout, "Seconds for connecting and for the handshake")
      ->default_val(10)
      ->check(CLI::Range(1, 300));
  connect->footer(
      "Prints the protocol, cipher, the server's subject and verified chain. Exit status 1 with\n"
      "the reason (\"certificate has expired\", \"unable to get local issuer certificate\",\n"
      "\"hostname mismatch\") when verification fails.");
  OnSelected(connect, selection, [o](Context& ctx) { return Connect(ctx, *o); });

  CLI::App* serve =
      tls->add_subcommand("serve", "Accept TLS connections on 127.0.0.1 and report each client");
  AddCertDirOption(serve, so->cert_dir);
  serve->add_option("--port", so->port, "Port on 127.0.0.1 (0: any free one, printed)")->required();
  serve->add_option("--identity", so->identity, "Tracked identity serving its certificate")
      ->default_val("device-id");
  serve->add_option("--trust", so->trust, "Trust purpose verifying client certificates")
      ->default_val("leaf");
  serve->add_flag("--require-client-cert", so->require_client_cert,
                  "Refuse clients without a verified certificate");
  serve->add_flag(
      "--once", so->once,
      "Exit after the first connection: 0 if it was accepted, 1 with the reason if not");
  serve->footer(
      "Loopback only (a diagnostic, not a service). Each connection prints one line (one JSON "
      "value\n"
      "with --json): the client's subject, or why its certificate was refused.");
  OnSelected(serve, selection, [so](Context& ctx) { return Serve(ctx, *so); });
}

}  // namespace edgetrust::cli
