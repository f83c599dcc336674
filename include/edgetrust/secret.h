// Byte buffers, and a byte buffer for secrets that wipes itself.
//
// SecretBytes holds key material, plaintexts and anything else that must not linger in memory:
// its storage is wiped with OPENSSL_cleanse when it is destroyed, resized or assigned over, and it
// cannot be copied by accident (copies are explicit through Clone()).
// Thread safety: none beyond that of a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgetrust {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Overwrites memory in a way the compiler may not elide.
void SecureWipe(void* data, size_t size);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : data_(size) {}
  explicit SecretBytes(ByteView bytes) : data_(bytes.begin(), bytes.end()) {}
  ~SecretBytes() { Wipe(); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      data_ = std::move(other.data_);
      other.data_.clear();
    }
    return *this;
  }

  SecretBytes Clone() const { return SecretBytes(ByteView(data_)); }
  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  ByteView view() const { return {data_.data(), data_.size()}; }
  // Shrinks without reallocating (the tail is wiped); never grows.
  void Truncate(size_t size) {
    if (size >= data_.size()) return;
    SecureWipe(data_.data() + size, data_.size() - size);
    data_.resize(size);
  }

 private:
  void Wipe() {
    if (!data_.empty()) SecureWipe(data_.data(), data_.size());
    data_.clear();
  }
  std::vector<uint8_t> data_;
};

}  // namespace edgetrust
