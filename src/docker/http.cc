#include "docker/http.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <utility>

#include "common/files.h"
#include "common/unique_fd.h"
#include "docker/answers.h"

namespace edgetrust::docker {
namespace {

struct WriteState {
  std::string* body;
  size_t limit;
  bool too_large = false;
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<WriteState*>(user);
  const size_t n = size * count;
  if (state->body->size() + n > state->limit) {
    state->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  state->body->append(data, n);
  return n;
}

struct ReadState {
  int fd;
  int error = 0;
};

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* state = static_cast<ReadState*>(user);
  while (true) {
    const ssize_t n = ::read(state->fd, buffer, size * count);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    state->error = errno;
    return CURL_READFUNC_ABORT;
  }
}

}  // namespace

void EnsureCurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

std::string EscapePart(std::string_view part) {
  EnsureCurlInit();
  CurlEasyPtr curl(curl_easy_init());
  if (!curl) return {};
  char* escaped = curl_easy_escape(curl.get(), part.data(), static_cast<int>(part.size()));
  if (escaped == nullptr) return {};
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

Result<CurlEasyPtr> HttpClient::Prepare(const HttpRequest& request, CurlSlistPtr* headers) const {
  EnsureCurlInit();
  CurlEasyPtr curl(curl_easy_init());
  if (!curl) return Status(ErrorCode::kInternal, "docker: curl_easy_init failed");
  CURL* c = curl.get();
  const std::string url = "http://docker" + request.path;
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());  // curl copies strings it is given
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms_);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, request.timeout_ms);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  if (!request.content_type.empty()) {
    list = curl_slist_append(list, ("Content-Type: " + request.content_type).c_str());
  }
  headers->reset(list);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (request.upload_file.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());  // not copied: kept alive
    }
  } else if (request.method == "DELETE") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else if (request.method != "GET") {
    return Status(ErrorCode::kInternal, "docker: unsupported method " + request.method);
  }
  return curl;
}

Status HttpClient::TransferError(CURLcode code, const char* error_buffer) const {
  std::string detail = error_buffer != nullptr && error_buffer[0] != '\0'
                           ? std::string(error_buffer)
                           : std::string(curl_easy_strerror(code));
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return Status(ErrorCode::kUnavailable,
                    "docker: cannot reach the engine at " + socket_path_ + ": " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      return Status(ErrorCode::kUnavailable,
                    "docker: the engine at " + socket_path_ + " did not answer in time: " + detail);
    default:
      return Status(ErrorCode::kUnavailable,
                    "docker: transfer with the engine at " + socket_path_ + " failed: " + detail);
  }
}

Result<HttpAnswer> HttpClient::Send(const HttpRequest& request) const {
  CurlSlistPtr headers;
  ET_ASSIGN_OR_RETURN(CurlEasyPtr curl, Prepare(request, &headers));
  CURL* c = curl.get();
  HttpAnswer answer;
  WriteState write{&answer.body, max_answer_bytes_};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &write);

  UniqueFd file;
  ReadState read{-1};
  if (!request.upload_file.empty()) {
    file.Reset(::open(request.upload_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) {
      return Status(ErrorCode::kIoError,
                    "docker: cannot open " + request.upload_file + ": " + ErrnoText(errno));
    }
    struct stat st {};
    if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status(ErrorCode::kIoError, "docker: " + request.upload_file + " is not a file");
    }
    read.fd = file.get();
    curl_easy_setopt(c, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(c, CURLOPT_READDATA, &read);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(st.st_size));
  }

  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  const CURLcode rc = curl_easy_perform(c);
  if (write.too_large) {
    return Status(ErrorCode::kTooLarge, "docker: the engine's answer to " + request.path +
                                            " exceeds " + std::to_string(max_answer_bytes_) +
                                            " bytes");
  }
  if (read.error != 0) {
    return Status(ErrorCode::kIoError,
                  "docker: reading " + request.upload_file + ": " + ErrnoText(read.error));
  }
  if (rc != CURLE_OK) return TransferError(rc, error_buffer);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

Status StatusFromHttp(const HttpAnswer& answer, std::string_view what, bool conflict_is_exists) {
  const long code = answer.status;
  if ((code >= 200 && code < 300) || code == 304) return Status::Ok();
  std::string message = "docker: " + std::string(what) + ": " + EngineMessage(answer.body) +
                        " (HTTP " + std::to_string(code) + ")";
  ErrorCode ec = ErrorCode::kInternal;
  if (code == 400) {
    ec = ErrorCode::kInvalidArgument;
  } else if (code == 404) {
    ec = ErrorCode::kNotFound;
  } else if (code == 409) {
    ec = conflict_is_exists ? ErrorCode::kAlreadyExists : ErrorCode::kFailedPrecondition;
  }
  return Status(ec, std::move(message));
}

}  // namespace edgetrust::docker
