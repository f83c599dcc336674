// Fuzz target: the client's side of the protocol (client/connection.cc and client.cc).
//
// The first input byte picks the opcode and the body kind (see ResponseSelector in fuzz_util.h):
// a successful answer (kResponse), a nested key or log entry (kKeyEntry, kLogEntry) or an error
// answer (kError). The rest is the body, decoded with Message::Decode. A body that decodes must
// keep the promises CheckDecoded lists; the client dereferences required fields without further
// checks, so a missing one would be a crash in libedgetrust.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "protocol/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace protocol = edgetrust::protocol;
  if (size == 0) return 0;
  auto op = static_cast<protocol::Opcode>(data[0] & 0x1F);
  protocol::BodyKind kind = edgetrust::fuzz::kResponseKinds[(data[0] >> 5) % 4];
  edgetrust::Bytes body(data + 1, data + size);  // exact-size buffer, as the client reads it
  auto msg = protocol::Message::Decode(body, op, kind);
  if (!msg.ok()) {
    ET_FUZZ_CHECK(edgetrust::fuzz::IsDecodeError(msg.status()));
    return 0;
  }
  edgetrust::fuzz::CheckDecoded(body, *msg, op, kind);
  return 0;
}
