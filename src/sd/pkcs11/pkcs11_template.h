// An attribute template for PKCS#11 calls, holding its own boolean and integer values so that
// CK_ATTRIBUTE pointers stay valid. Byte values point at the caller's buffers, which must outlive
// the call. Not thread-safe; build one per call.
#pragma once

#include <p11-kit/pkcs11.h>

#include <deque>
#include <string_view>
#include <vector>

#include "edgetrust/secret.h"

namespace edgetrust::sd::pkcs11 {

class Template {
 public:
  Template& Bool(CK_ATTRIBUTE_TYPE type, bool value) {
    bools_.push_back(value ? CK_TRUE : CK_FALSE);
    return Add(type, &bools_.back(), sizeof(CK_BBOOL));
  }
  Template& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
    ulongs_.push_back(value);
    return Add(type, &ulongs_.back(), sizeof(CK_ULONG));
  }
  Template& Data(CK_ATTRIBUTE_TYPE type, ByteView value) {
    return Add(type, const_cast<uint8_t*>(value.data()), value.size());
  }
  Template& Text(CK_ATTRIBUTE_TYPE type, std::string_view value) {
    return Add(type, const_cast<char*>(value.data()), value.size());
  }
  // CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE=false: what every secret or private
  // key the secure domain keeps on the token carries.
  Template& Protected(bool on_token) {
    return Bool(CKA_TOKEN, on_token)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, false);
  }

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return static_cast<CK_ULONG>(attrs_.size()); }

 private:
  Template& Add(CK_ATTRIBUTE_TYPE type, void* value, size_t size) {
    attrs_.push_back(CK_ATTRIBUTE{type, value, static_cast<CK_ULONG>(size)});
    return *this;
  }
  std::deque<CK_BBOOL> bools_;
  std::deque<CK_ULONG> ulongs_;
  std::vector<CK_ATTRIBUTE> attrs_;
};

}  // namespace edgetrust::sd::pkcs11
