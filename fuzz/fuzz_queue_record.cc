// Fuzz target: the records of the store-and-forward queue's database (store/record.h, meta.h,
// key_file.h), which an attacker with write access to the queue folder controls.
//
// The first input byte (mod 4) picks what the rest is, opened with the queue keys derived from a
// fixed data key (kFuzzDataKey):
//   0  a message row: id u64 | seq u64 | received_ms i64 | size u64 | leaf length u8 | leaf |
//      sealed (all integers big-endian, the row's columns)
//   1  a command row: id u64 | received_ms i64 | leaf length u8 | leaf | sealed
//   2  a meta row (the blob of meta.v)
//   3  the plaintext of a sealed queue.key
// Promises: errors are kTampered for rows and kMalformed/kTampered for the meta row, kMalformed
// for a key plaintext, never a crash; an opened row holds a subtopic and payload within their
// limits (a message's payload exactly `size` bytes), sealing it again with the nonce it carries
// gives exactly the same bytes, and flipping any one bit of it or changing its id makes it fail;
// a decoded meta row or key plaintext encodes back to exactly its input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "protocol/wire.h"
#include "store/key_file.h"
#include "store/meta.h"
#include "store/queue_crypto.h"
#include "store/record.h"

namespace {

namespace store = edgetrust::store;
using edgetrust::Bytes;
using edgetrust::ByteView;
using edgetrust::ErrorCode;

[[noreturn]] void Violated(const char* what, int line) {
  std::fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", __FILE__, line, what);
  std::fflush(stderr);
  __builtin_trap();
}
#define CHECK(cond)                         \
  do {                                      \
    if (!(cond)) Violated(#cond, __LINE__); \
  } while (0)

// ASCII "ETQ-fuzz-queue-data-key-not-key!": the seeds of corpus/queue_record are sealed with it.
constexpr uint8_t kFuzzDataKey[32] = {'E', 'T', 'Q', '-', 'f', 'u', 'z', 'z', '-', 'q', 'u',
                                      'e', 'u', 'e', '-', 'd', 'a', 't', 'a', '-', 'k', 'e',
                                      'y', '-', 'n', 'o', 't', '-', 'k', 'e', 'y', '!'};

const store::QueueKeys& Keys() {
  static const store::QueueKeys keys = [] {
    auto k = store::QueueKeys::Derive(edgetrust::SecretBytes(ByteView(kFuzzDataKey)));
    if (!k.ok()) __builtin_trap();
    return std::move(k).value();
  }();
  return keys;
}

store::RecordCodec& Codec() {
  static store::RecordCodec codec = [] {
    auto c = store::RecordCodec::Create(Keys().aead);
    if (!c.ok()) __builtin_trap();
    return std::move(c).value();
  }();
  return codec;
}

struct Reader {
  const uint8_t* p;
  size_t left;
  bool U64(uint64_t& v) {
    if (left < 8) return false;
    v = edgetrust::protocol::GetU64(p);
    p += 8;
    left -= 8;
    return true;
  }
  bool Leaf(std::string& leaf) {
    if (left < 1) return false;
    const size_t n = p[0];
    if (left - 1 < n) return false;
    leaf.assign(reinterpret_cast<const char*>(p + 1), n);
    p += 1 + n;
    left -= 1 + n;
    return true;
  }
};

// The nonce counter of a sealed row when its nonce has the queue's layout (4 zero bytes first).
bool NonceCounter(ByteView sealed, uint64_t& counter) {
  if (sealed.size() < store::kNonceSize) return false;
  if (sealed[0] != 0 || sealed[1] != 0 || sealed[2] != 0 || sealed[3] != 0) return false;
  counter = edgetrust::protocol::GetU64(sealed.data() + 4);
  return true;
}

void Message(Reader r) {
  uint64_t id = 0, seq = 0, received = 0, size = 0;
  std::string leaf;
  if (!r.U64(id) || !r.U64(seq) || !r.U64(received) || !r.U64(size) || !r.Leaf(leaf)) return;
  const Bytes sealed(r.p, r.p + r.left);
  store::MessageHeader h{id, leaf, seq, static_cast<int64_t>(received)};
  std::string subtopic, payload;
  auto st = Codec().OpenMessage(h, size, sealed, subtopic, payload);
  if (!st.ok()) {
    CHECK(st.code() == ErrorCode::kTampered);
    return;
  }
  CHECK(payload.size() == size);
  CHECK(subtopic.size() <= store::kMaxSubtopic && payload.size() <= store::kMaxPayload);
  uint64_t nonce = 0;
  if (NonceCounter(sealed, nonce) && store::ValidateLeafName(leaf).ok()) {
    Bytes again;
    CHECK(Codec().SealMessage(nonce, h, subtopic, payload, again).ok());
    CHECK(again == sealed);
  }
  std::string s2, p2;
  for (size_t bit = 0; bit < sealed.size() * 8; bit += 1 + sealed.size() / 64) {
    Bytes flipped = sealed;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CHECK(!Codec().OpenMessage(h, size, flipped, s2, p2).ok());
  }
  store::MessageHeader moved = h;
  moved.id = id + 1;
  CHECK(!Codec().OpenMessage(moved, size, sealed, s2, p2).ok());
}

void Command(Reader r) {
  uint64_t id = 0, received = 0;
  std::string leaf;
  if (!r.U64(id) || !r.U64(received) || !r.Leaf(leaf)) return;
  const Bytes sealed(r.p, r.p + r.left);
  store::CommandHeader h{id, leaf, static_cast<int64_t>(received)};
  std::string subtopic, payload;
  auto st = Codec().OpenCommand(h, sealed, subtopic, payload);
  if (!st.ok()) {
    CHECK(st.code() == ErrorCode::kTampered);
    return;
  }
  CHECK(subtopic.size() <= store::kMaxSubtopic && payload.size() <= store::kMaxPayload);
  uint64_t nonce = 0;
  if (NonceCounter(sealed, nonce) && store::ValidateLeafName(leaf).ok()) {
    Bytes again;
    CHECK(Codec().SealCommand(nonce, h, subtopic, payload, again).ok());
    CHECK(again == sealed);
  }
  std::string s2, p2;
  for (size_t bit = 0; bit < sealed.size() * 8; bit += 1 + sealed.size() / 64) {
    Bytes flipped = sealed;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CHECK(!Codec().OpenCommand(h, flipped, s2, p2).ok());
  }
  // A command's record never opens as a message of the same id and leaf.
  store::MessageHeader as_message{id, leaf, 1, static_cast<int64_t>(received)};
  CHECK(!Codec().OpenMessage(as_message, payload.size(), sealed, s2, p2).ok());
}

void Meta(ByteView data) {
  auto meta = store::DecodeMeta(data, Keys().meta);
  if (!meta.ok()) {
    CHECK(meta.status().code() == ErrorCode::kMalformed ||
          meta.status().code() == ErrorCode::kTampered);
    return;
  }
  auto again = store::EncodeMeta(*meta, Keys().meta);
  CHECK(again.ok());
  CHECK(again->size() == data.size() && std::memcmp(again->data(), data.data(), data.size()) == 0);
}

void KeyPlain(ByteView data) {
  auto key = store::DecodeKeyPlain(data);
  if (!key.ok()) {
    CHECK(key.status().code() == ErrorCode::kMalformed);
    return;
  }
  CHECK(key->key.size() == store::kDataKeySize);
  edgetrust::SecretBytes again = store::EncodeKeyPlain(*key);
  CHECK(again.size() == data.size() && std::memcmp(again.data(), data.data(), data.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Reader rest{data + 1, size - 1};
  switch (data[0] % 4) {
    case 0:
      Message(rest);
      break;
    case 1:
      Command(rest);
      break;
    case 2:
      Meta(ByteView(rest.p, rest.left));
      break;
    default:
      KeyPlain(ByteView(rest.p, rest.left));
      break;
  }
  return 0;
}
