// The encrypted rows of queue.db: how one message or one command is sealed and opened
// (docs/store.md, "Records" is normative).
//
//   body      u16 BE subtopic length | subtopic | payload
//   sealed    nonce (12) | AES-256-GCM(body) | tag (16)
//   nonce     4 zero bytes | u64 BE nonce counter (unique per data key, see writer.h)
//   AAD of a message:  "ETQ1" 'M' | id u64 | seq u64 | received_ms i64 | payload size u64 |
//                      u16 leaf length | leaf
//   AAD of a command:  "ETQ1" 'C' | id u64 | received_ms i64 | u16 leaf length | leaf
// (all integers big-endian). The AAD binds a row to its id, leaf, sequence number, time and size:
// editing, swapping or moving rows (or turning a message into a command) fails authentication.
//
// Thread safety: a RecordCodec holds cipher contexts and scratch space; one per thread.
// Errors: Open* returns kTampered for anything that does not authenticate or decode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "store/queue_crypto.h"

namespace edgetrust::store {

inline constexpr size_t kMaxLeafName = 256;
inline constexpr size_t kMaxSubtopic = 1024;
inline constexpr size_t kMaxPayload = 1024 * 1024;
// The largest sealed row a valid queue holds.
inline constexpr size_t kMaxSealedRecord = kNonceSize + 2 + kMaxSubtopic + kMaxPayload + kTagSize;

struct MessageHeader {
  uint64_t id = 0;
  std::string_view leaf;
  uint64_t seq = 0;
  int64_t received_ms = 0;
};

struct CommandHeader {
  uint64_t id = 0;
  std::string_view leaf;
  int64_t received_ms = 0;
};

// kInvalidArgument / kTooLarge for names and sizes a queue does not accept.
Status ValidateLeafName(std::string_view leaf);
Status ValidateBody(std::string_view subtopic, std::string_view payload);

class RecordCodec {
 public:
  static Result<RecordCodec> Create(const SecretBytes& aead_key);

  // Replace `out` with the sealed row.
  Status SealMessage(uint64_t nonce, const MessageHeader& h, std::string_view subtopic,
                     std::string_view payload, Bytes& out);
  Status SealCommand(uint64_t nonce, const CommandHeader& h, std::string_view subtopic,
                     std::string_view payload, Bytes& out);

  // `size` is the payload size the row claims (its `size` column).
  Status OpenMessage(const MessageHeader& h, uint64_t size, ByteView sealed, std::string& subtopic,
                     std::string& payload);
  Status OpenCommand(const CommandHeader& h, ByteView sealed, std::string& subtopic,
                     std::string& payload);

 private:
  explicit RecordCodec(Aead aead) : aead_(std::move(aead)) {}
  Status Seal(uint64_t nonce, std::string_view subtopic, std::string_view payload, Bytes& out);
  Status Open(ByteView sealed, std::string& subtopic, std::string& payload);

  Aead aead_;
  Bytes aad_;
  Bytes body_;
  std::string plain_;
};

}  // namespace edgetrust::store
