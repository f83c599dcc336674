// One HTTP request to the Docker engine over its Unix socket, with libcurl (docs/docker.md).
//
// URLs are "http://docker<path>", the path already carrying the API version prefix and escaped
// by the caller (EscapePart). The answer body is bounded: past max_answer_bytes the transfer is
// cut and the call fails with kTooLarge. A request body comes from memory or is streamed from a
// file (image archives).
//
// Thread safety: an HttpClient is immutable; Send() may run on several threads at once (each call
// has its own curl handle). Errors: kUnavailable when the socket cannot be reached, the transfer
// times out or the engine goes away mid-answer; kTooLarge; kIoError when an upload file cannot be
// read. HTTP error statuses are not errors here: see StatusFromHttp.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::docker {

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
struct CurlMultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// curl_global_init, once per process (std::call_once). Every curl use calls it first.
void EnsureCurlInit();

// A path segment or query value, percent-escaped with curl_easy_escape.
std::string EscapePart(std::string_view part);

struct HttpRequest {
  std::string method = "GET";  // GET, POST, DELETE
  std::string path;            // "/v1.41/containers/json?all=1"
  std::string body;            // sent when non-empty (or when content_type is set)
  std::string content_type;    // e.g. "application/json"
  std::string upload_file;     // streamed as the body when set (POST only)
  long timeout_ms = 60000;     // the whole transfer; 0 = none
};

struct HttpAnswer {
  long status = 0;
  std::string body;
};

class HttpClient {
 public:
  HttpClient(std::string socket_path, long connect_timeout_ms, size_t max_answer_bytes)
      : socket_path_(std::move(socket_path)),
        connect_timeout_ms_(connect_timeout_ms),
        max_answer_bytes_(max_answer_bytes) {}

  Result<HttpAnswer> Send(const HttpRequest& request) const;

  // A curl handle set up for `request` (socket, URL, method, timeouts, headers kept in
  // `headers`), for callers that drive the transfer themselves (the event stream).
  Result<CurlEasyPtr> Prepare(const HttpRequest& request, CurlSlistPtr* headers) const;
  // The Status for a failed transfer.
  Status TransferError(CURLcode code, const char* error_buffer) const;

  const std::string& socket_path() const { return socket_path_; }
  size_t max_answer_bytes() const { return max_answer_bytes_; }

 private:
  std::string socket_path_;
  long connect_timeout_ms_;
  size_t max_answer_bytes_;
};

// Maps an HTTP answer to a Status: 2xx and 304 (already started / stopped) are OK; 400
// kInvalidArgument, 404 kNotFound, 409 kAlreadyExists when `conflict_is_exists` else
// kFailedPrecondition, 5xx kInternal, anything else kInternal. The message names `what` and
// carries the engine's own text.
Status StatusFromHttp(const HttpAnswer& answer, std::string_view what,
                      bool conflict_is_exists = false);

}  // namespace edgetrust::docker
