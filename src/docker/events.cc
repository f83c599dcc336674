#include "docker/events.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/thread_start.h"
#include "docker/answers.h"

namespace edgetrust::docker {

DockerEventStream::DockerEventStream(const HttpClient& http,
                                     std::function<void(const Event&)> on_event,
                                     std::function<void(const Status&)> on_end)
    : http_(http), on_event_(std::move(on_event)), on_end_(std::move(on_end)) {}

Result<std::unique_ptr<EventStream>> DockerEventStream::Start(
    const HttpClient& http, const std::string& path, long start_timeout_ms,
    std::function<void(const Event&)> on_event, std::function<void(const Status&)> on_end) {
  std::unique_ptr<DockerEventStream> stream(
      new DockerEventStream(http, std::move(on_event), std::move(on_end)));
  HttpRequest request;
  request.path = path;
  request.timeout_ms = 0;  // a stream: no end
  ET_ASSIGN_OR_RETURN(stream->easy_, http.Prepare(request, &stream->headers_));
  CURL* c = stream->easy_.get();
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &DockerEventStream::OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, stream.get());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &DockerEventStream::OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, stream.get());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, stream->error_buffer_);
  stream->multi_.reset(curl_multi_init());
  if (!stream->multi_) return Status(ErrorCode::kInternal, "docker: curl_multi_init failed");
  if (curl_multi_add_handle(stream->multi_.get(), c) != CURLM_OK) {
    return Status(ErrorCode::kInternal, "docker: curl_multi_add_handle failed");
  }
  try {
    stream->thread_ = StartThread([s = stream.get()] { s->Run(); });
  } catch (const std::system_error& e) {
    return Status(ErrorCode::kInternal, std::string("docker: cannot start a thread: ") + e.what());
  }
  std::unique_lock lock(stream->mu_);
  const bool answered = stream->cv_.wait_for(lock, std::chrono::milliseconds(start_timeout_ms),
                                             [&] { return stream->started_; });
  Status status =
      answered ? stream->start_status_
               : Status(ErrorCode::kUnavailable, "docker: the engine at " + http.socket_path() +
                                                     " did not answer GET /events in time");
  lock.unlock();
  if (!status.ok()) return status;  // the destructor stops the thread
  return std::unique_ptr<EventStream>(std::move(stream));
}

DockerEventStream::~DockerEventStream() {
  Stop();
  if (thread_.joinable()) thread_.join();  // only reached off the stream's thread
  if (multi_ && easy_) curl_multi_remove_handle(multi_.get(), easy_.get());
}

void DockerEventStream::Stop() {
  stop_.store(true);
  if (multi_) curl_multi_wakeup(multi_.get());
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void DockerEventStream::SignalStarted(Status status) {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  start_status_ = std::move(status);
  cv_.notify_all();
}

size_t DockerEventStream::OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* self = static_cast<DockerEventStream*>(user);
  const size_t n = size * count;
  const std::string_view line(data, n);
  if (line == "\r\n" || line == "\n") {  // end of the headers
    curl_easy_getinfo(self->easy_.get(), CURLINFO_RESPONSE_CODE, &self->http_status_);
    if (self->http_status_ == 200) self->SignalStarted(Status::Ok());
    // Other statuses: the body is the engine's error, reported when the transfer ends.
  }
  return n;
}

size_t DockerEventStream::OnData(char* data, size_t size, size_t count, void* user) {
  return static_cast<DockerEventStream*>(user)->Data(data, size * count);
}

size_t DockerEventStream::Data(const char* data, size_t n) {
  if (stop_.load()) return 0;  // aborts the transfer
  if (http_status_ != 200) {
    if (error_body_.size() < 4096) error_body_.append(data, std::min<size_t>(n, 4096));
    return n;
  }
  std::string_view chunk(data, n);
  while (!chunk.empty()) {
    const size_t nl = chunk.find('\n');
    const std::string_view piece = chunk.substr(0, nl);
    if (pending_.size() + piece.size() > http_.max_answer_bytes()) {
      failure_ =
          Status(ErrorCode::kTooLarge, "docker: an event line exceeds " +
                                           std::to_string(http_.max_answer_bytes()) + " bytes");
      return 0;
    }
    pending_.append(piece);
    if (nl == std::string_view::npos) break;
    chunk.remove_prefix(nl + 1);
    std::string line = std::move(pending_);
    pending_.clear();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Result<Event> event = ParseEvent(line);
    if (!event.ok()) {
      failure_ = event.status();
      return 0;
    }
    if (stop_.load()) return 0;
    if (on_event_) on_event_(*event);
  }
  return n;
}

void DockerEventStream::Run() {
  CURLM* multi = multi_.get();
  Status end;
  while (true) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) {
      end = Status(ErrorCode::kInternal,
                   std::string("docker: curl_multi_perform: ") + curl_multi_strerror(mc));
      break;
    }
    int left = 0;
    bool done = false;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      done = true;
      const CURLcode rc = msg->data.result;
      if (!failure_.ok()) {
        end = failure_;
      } else if (http_status_ != 0 && http_status_ != 200) {
        end = StatusFromHttp(HttpAnswer{http_status_, error_body_}, "GET /events");
      } else if (rc != CURLE_OK) {
        end = http_.TransferError(rc, error_buffer_);
      } else {
        end = Status(ErrorCode::kUnavailable, "docker: the engine ended the event stream");
      }
    }
    if (done || running == 0 || stop_.load()) break;
    mc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    if (mc != CURLM_OK) {
      end = Status(ErrorCode::kInternal,
                   std::string("docker: curl_multi_poll: ") + curl_multi_strerror(mc));
      break;
    }
  }
  if (end.ok()) end = Status(ErrorCode::kUnavailable, "docker: the event stream stopped");
  {
    std::lock_guard lock(mu_);
    if (!started_) {  // never got a 200: the answer to Start()
      started_ = true;
      start_status_ = end;
      cv_.notify_all();
      return;
    }
  }
  if (stop_.load()) return;
  spdlog::warn("docker: event stream ended: {}", end.ToString());
  if (on_end_) on_end_(end);
}

}  // namespace edgetrust::docker
