// Fuzz target: the daemon's request path (what Server::Serve does with the bytes a caller sends).
//
// The input is a byte stream of frames. Frame by frame, as the server reads them: a 24-byte header
// through DecodeHeader (a bad magic or an oversized length ends the stream); frames of another
// protocol version or an unknown opcode are skipped; a known opcode's body goes through
// Message::Decode(body, op, kRequest). A body that decodes must keep the promises CheckDecoded
// lists (canonical encoding, round trip, schema). The dispatcher is not run: it needs a backend.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.h"
#include "protocol/message.h"
#include "protocol/wire.h"

namespace {

using edgetrust::Bytes;
using edgetrust::ByteView;
using edgetrust::ErrorCode;
namespace protocol = edgetrust::protocol;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView stream(data, size);
  while (!stream.empty()) {
    if (stream.size() < protocol::kHeaderSize) {
      // The server never gets here (the peer closed mid-header); the decoder must still refuse.
      Bytes partial(stream.begin(), stream.end());
      auto h = protocol::DecodeHeader(partial);
      ET_FUZZ_CHECK(!h.ok() && h.status().code() == ErrorCode::kMalformed);
      break;
    }
    // Header and body in buffers of their exact size, as the server reads them, so an over-read
    // shows up under ASan instead of landing in the next frame.
    std::array<uint8_t, protocol::kHeaderSize> header{};
    std::memcpy(header.data(), stream.data(), header.size());
    stream = stream.subspan(protocol::kHeaderSize);
    auto h = protocol::DecodeHeader(header);
    if (!h.ok()) {
      ET_FUZZ_CHECK(edgetrust::fuzz::IsDecodeError(h.status()));
      break;  // the stream cannot be trusted any more
    }
    ET_FUZZ_CHECK(h->body_length <= protocol::kMaxBodySize);
    ET_FUZZ_CHECK(protocol::EncodeHeader(*h) == header);
    if (h->body_length > stream.size()) break;  // the peer closed mid-body
    Bytes body(stream.begin(), stream.begin() + h->body_length);
    stream = stream.subspan(h->body_length);
    if (h->version != protocol::kProtocolVersion) continue;  // answered "unsupported", body skipped
    if (!protocol::IsKnownOpcode(h->opcode)) continue;       // likewise
    auto op = static_cast<protocol::Opcode>(h->opcode);
    ET_FUZZ_CHECK(protocol::OpcodeName(op) != "unknown");
    auto request = protocol::Message::Decode(body, op, protocol::BodyKind::kRequest);
    if (!request.ok()) {
      ET_FUZZ_CHECK(edgetrust::fuzz::IsDecodeError(request.status()));
      continue;  // answered with an error frame; the stream stays in sync
    }
    edgetrust::fuzz::CheckDecoded(body, *request, op, protocol::BodyKind::kRequest);
  }
  return 0;
}
