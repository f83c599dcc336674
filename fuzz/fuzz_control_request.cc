// Fuzz target: the agent's control protocol (agent/control_protocol.h), both ends. The agent
// reads request lines from any local caller that may open its socket; the CLI reads the agent's
// answers; the metrics endpoint turns the status answer into an exposition.
//
// First byte: bit 0 clear = a request line as ControlServer handles it (ParseControlLine with the
// request limit, then ParseControlRequest); set = an answer line as CallAgent handles it
// (ParseControlLine with the answer limit, ResponseStatus, and AppendStatusMetrics on it). The
// rest is the line, without its '\n'.
//
// Invariants: request errors are kTooLarge, kMalformed or kInvalidArgument with a message; an
// accepted request names a valid leaf where its op needs one, has a ttl in range, and survives
// ControlRequestJson -> EncodeControlLine -> parse unchanged, as one line. An answer maps to a
// Status that ErrorResponse turns back into the same Status; the metrics built from any answer
// report no misuse and never contain a line break inside a sample.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/control_protocol.h"
#include "agent/metrics_server.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace agent = edgetrust::agent;
  using edgetrust::ErrorCode;
  if (size == 0) return 0;
  const bool answer = (data[0] & 1) != 0;
  std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);

  if (!answer) {
    auto json = agent::ParseControlLine(line, agent::kMaxRequestLineSize);
    if (!json.ok()) {
      const ErrorCode code = json.status().code();
      ET_FUZZ_CHECK(code == ErrorCode::kMalformed || code == ErrorCode::kTooLarge);
      ET_FUZZ_CHECK(!json.status().message().empty());
      return 0;
    }
    auto request = agent::ParseControlRequest(*json);
    if (!request.ok()) {
      ET_FUZZ_CHECK(request.status().code() == ErrorCode::kInvalidArgument);
      ET_FUZZ_CHECK(!request.status().message().empty());
      // The error answer the server sends is one line that a client can read back.
      const std::string err = agent::EncodeControlLine(agent::ErrorResponse(request.status()));
      ET_FUZZ_CHECK(err.find('\n') == err.size() - 1);
      auto back = agent::ParseControlLine(std::string_view(err).substr(0, err.size() - 1),
                                          agent::kMaxResponseLineSize);
      ET_FUZZ_CHECK(back.ok());
      ET_FUZZ_CHECK(agent::ResponseStatus(*back).code() == ErrorCode::kInvalidArgument);
      return 0;
    }
    const agent::ControlRequest& r = *request;
    const bool named = r.op == agent::ControlOp::kLeafAdd || r.op == agent::ControlOp::kLeafRevoke;
    ET_FUZZ_CHECK(named == !r.name.empty());
    ET_FUZZ_CHECK(!named || agent::LeafRegistry::IsValidName(r.name));
    ET_FUZZ_CHECK(r.ttl_s * 1000 >= agent::kMinTokenTtlMs &&
                  r.ttl_s * 1000 <= agent::kMaxTokenTtlMs);
    const std::string encoded = agent::EncodeControlLine(agent::ControlRequestJson(r));
    ET_FUZZ_CHECK(encoded.find('\n') == encoded.size() - 1);
    ET_FUZZ_CHECK(encoded.size() - 1 <= agent::kMaxRequestLineSize);
    auto reparsed = agent::ParseControlLine(std::string_view(encoded).substr(0, encoded.size() - 1),
                                            agent::kMaxRequestLineSize);
    ET_FUZZ_CHECK(reparsed.ok());
    auto again = agent::ParseControlRequest(*reparsed);
    ET_FUZZ_CHECK(again.ok() && *again == r);
    return 0;
  }

  auto json = agent::ParseControlLine(line, agent::kMaxResponseLineSize);
  if (!json.ok()) {
    const ErrorCode code = json.status().code();
    ET_FUZZ_CHECK(code == ErrorCode::kMalformed || code == ErrorCode::kTooLarge);
    return 0;
  }
  const edgetrust::Status st = agent::ResponseStatus(*json);
  if (!st.ok()) {
    ET_FUZZ_CHECK(!st.message().empty());
    const edgetrust::Status back = agent::ResponseStatus(agent::ErrorResponse(st));
    ET_FUZZ_CHECK(back.code() == st.code() && back.message() == st.message());
  }
  agent::MetricsText metrics;
  agent::AppendStatusMetrics(metrics, *json);
  ET_FUZZ_CHECK(metrics.status().ok());
  const std::string& text = metrics.text();
  ET_FUZZ_CHECK(text.empty() || text.back() == '\n');
  // Every line is a comment or a sample of a declared family: label values cannot break lines.
  size_t start = 0;
  std::string family;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string_view l(text.data() + start, end - start);
    if (l.starts_with("# TYPE ")) {
      family = std::string(l.substr(7, l.find(' ', 7) - 7));
    } else if (!l.starts_with("# HELP ")) {
      ET_FUZZ_CHECK(!family.empty() && l.starts_with(family) && l.size() > family.size() &&
                    (l[family.size()] == '{' || l[family.size()] == ' '));
    }
    start = end + 1;
  }
  return 0;
}
