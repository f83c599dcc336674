// GET /events as a stream (docs/docker.md): the engine's newline-delimited JSON messages, parsed
// one by one (answers.h ParseEvent) and handed to a callback on the stream's own thread.
//
// The transfer runs in a curl multi handle on a thread started with StartThread; Stop() wakes it
// with curl_multi_wakeup, so it returns at once even when the engine has sent nothing for
// minutes. Start() returns once the engine has answered the request's headers, so events after
// it are seen (the request also carries since=<now> to cover the engine's subscribe moment).
//
// Thread safety: Stop() and the destructor may be called from any thread but the stream's own
// (from a callback, Stop() only asks the thread to end). Errors: Start() gives the engine's answer
// to a bad request (kInvalidArgument for a bad filter), kUnavailable if it cannot connect; later
// failures reach on_end: kUnavailable (engine gone), kMalformed (a line that does not parse),
// kTooLarge (a line over max_answer_bytes).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "docker/engine.h"
#include "docker/http.h"

namespace edgetrust::docker {

class DockerEventStream : public EventStream {
 public:
  static Result<std::unique_ptr<EventStream>> Start(const HttpClient& http, const std::string& path,
                                                    long start_timeout_ms,
                                                    std::function<void(const Event&)> on_event,
                                                    std::function<void(const Status&)> on_end);
  ~DockerEventStream() override;
  void Stop() override;

  DockerEventStream(const DockerEventStream&) = delete;
  DockerEventStream& operator=(const DockerEventStream&) = delete;

 private:
  DockerEventStream(const HttpClient& http, std::function<void(const Event&)> on_event,
                    std::function<void(const Status&)> on_end);
  static size_t OnData(char* data, size_t size, size_t count, void* user);
  static size_t OnHeader(char* data, size_t size, size_t count, void* user);
  size_t Data(const char* data, size_t n);
  void Run();
  void SignalStarted(Status status);

  const HttpClient& http_;
  std::function<void(const Event&)> on_event_;
  std::function<void(const Status&)> on_end_;
  CurlEasyPtr easy_;
  CurlMultiPtr multi_;
  CurlSlistPtr headers_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  std::atomic<bool> stop_{false};
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;  // guarded by mu_
  Status start_status_;   // guarded by mu_

  // Stream thread only.
  long http_status_ = 0;
  std::string pending_;     // an incomplete line
  std::string error_body_;  // the body of a non-200 answer
  Status failure_;          // a malformed or oversized line
};

}  // namespace edgetrust::docker
