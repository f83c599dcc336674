// The C ABI (include/edgetrust/edgetrust.h) as a thin layer over edgetrust::Client.
//
// Every entry point runs its body through Guard(): a Status becomes an et_status plus the calling
// thread's last-error text, and any exception is caught here, because unwinding into C code is
// undefined behaviour. Buffers handed to the caller carry a hidden size header so that et_free(),
// which only receives the pointer, can wipe them before freeing (plaintexts pass through here).

#include <openssl/crypto.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/client.h"
#include "edgetrust/edgetrust.h"

struct et_client {
  std::unique_ptr<edgetrust::Client> impl;
};

namespace {

using edgetrust::ByteView;
using edgetrust::ErrorCode;
using edgetrust::Result;
using edgetrust::Status;

// The C codes are the wire codes; keep the two enums locked together.
static_assert(static_cast<int>(ErrorCode::kOk) == ET_OK);
static_assert(static_cast<int>(ErrorCode::kInvalidArgument) == ET_E_INVALID_ARGUMENT);
static_assert(static_cast<int>(ErrorCode::kNotFound) == ET_E_NOT_FOUND);
static_assert(static_cast<int>(ErrorCode::kAlreadyExists) == ET_E_ALREADY_EXISTS);
static_assert(static_cast<int>(ErrorCode::kPermissionDenied) == ET_E_PERMISSION_DENIED);
static_assert(static_cast<int>(ErrorCode::kUnsupported) == ET_E_UNSUPPORTED);
static_assert(static_cast<int>(ErrorCode::kTampered) == ET_E_TAMPERED);
static_assert(static_cast<int>(ErrorCode::kVerifyFailed) == ET_E_VERIFY_FAILED);
static_assert(static_cast<int>(ErrorCode::kMalformed) == ET_E_MALFORMED);
static_assert(static_cast<int>(ErrorCode::kTooLarge) == ET_E_TOO_LARGE);
static_assert(static_cast<int>(ErrorCode::kInternal) == ET_E_INTERNAL);
static_assert(static_cast<int>(ErrorCode::kUnavailable) == ET_E_UNAVAILABLE);
static_assert(static_cast<int>(ErrorCode::kResourceExhausted) == ET_E_RESOURCE_EXHAUSTED);
static_assert(static_cast<int>(ErrorCode::kIoError) == ET_E_IO_ERROR);
static_assert(static_cast<int>(ErrorCode::kFailedPrecondition) == ET_E_FAILED_PRECONDITION);

thread_local std::string t_last_error;

// Never throws: a failure to record the text must not turn into an exception in C code.
void SetLastError(std::string_view text) noexcept {
  try {
    t_last_error.assign(text);
  } catch (...) {
    t_last_error.clear();
  }
}

et_status Fail(ErrorCode code, std::string_view text) noexcept {
  SetLastError(text);
  return static_cast<et_status>(code);
}

et_status FromStatus(const Status& status) noexcept {
  if (status.ok()) return ET_OK;
  return Fail(status.code(), status.message());
}

// Runs `body` (returning Status) with every exception turned into an error code.
template <typename Fn>
et_status Guard(Fn&& body) noexcept {
  try {
    return FromStatus(body());
  } catch (const std::bad_alloc&) {
    return Fail(ErrorCode::kResourceExhausted, "out of memory");
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInternal, std::string("internal error: ") + e.what());
  } catch (...) {
    return Fail(ErrorCode::kInternal, "internal error: unknown exception");
  }
}

Status InvalidArgument(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

// Caller-owned buffers: [header | payload]. The header keeps the payload size for et_free and is
// max_align_t sized so the payload stays suitably aligned for any use.
struct alignas(std::max_align_t) AllocHeader {
  size_t size;
};

// Allocates `size` bytes (plus `extra` zeroed bytes, e.g. a NUL) and copies `data` in.
Result<void*> AllocCopy(const void* data, size_t size, size_t extra = 0) {
  const size_t total = size + extra;
  if (total < size || total > SIZE_MAX - sizeof(AllocHeader)) {
    return Status(ErrorCode::kResourceExhausted, "buffer too large");
  }
  auto* header = static_cast<AllocHeader*>(std::malloc(sizeof(AllocHeader) + total));
  if (header == nullptr) return Status(ErrorCode::kResourceExhausted, "out of memory");
  header->size = total;
  auto* payload = reinterpret_cast<unsigned char*>(header + 1);
  if (size > 0) std::memcpy(payload, data, size);
  if (extra > 0) std::memset(payload + size, 0, extra);
  return static_cast<void*>(payload);
}

// Hands `bytes` to the caller as a malloc'd buffer, setting *out and *out_len only on success.
Status GiveBytes(ByteView bytes, uint8_t** out, size_t* out_len) {
  ET_ASSIGN_OR_RETURN(void* p, AllocCopy(bytes.data(), bytes.size()));
  *out = static_cast<uint8_t*>(p);
  *out_len = bytes.size();
  return Status::Ok();
}

Status GiveString(std::string_view text, char** out) {
  ET_ASSIGN_OR_RETURN(void* p, AllocCopy(text.data(), text.size(), 1));
  *out = static_cast<char*>(p);
  return Status::Ok();
}

// Input buffer check: NULL is only allowed together with a zero length (an empty input).
Result<ByteView> InputBytes(const uint8_t* data, size_t len, const char* what) {
  if (data == nullptr && len != 0)
    return InvalidArgument(std::string(what) + " is NULL but its length is not 0");
  if (data == nullptr) return ByteView{};
  return ByteView(data, len);
}

Status CheckClient(const et_client* client) {
  if (client == nullptr || !client->impl) return InvalidArgument("client is NULL");
  return Status::Ok();
}

Status CheckString(const char* s, const char* what) {
  if (s == nullptr) return InvalidArgument(std::string(what) + " is NULL");
  return Status::Ok();
}

Status CheckOut(const void* out, const char* what) {
  if (out == nullptr) return InvalidArgument(std::string(what) + " is NULL");
  return Status::Ok();
}

Result<edgetrust::KeyType> KeyTypeArg(const char* type) {
  auto parsed = edgetrust::ParseKeyType(type);
  if (!parsed) return InvalidArgument(std::string("unknown key type '") + type + "'");
  return *parsed;
}

// NULL means "the operation's default".
Result<std::optional<edgetrust::KeyType>> OptionalKeyTypeArg(const char* type) {
  if (type == nullptr) return std::optional<edgetrust::KeyType>();
  ET_ASSIGN_OR_RETURN(edgetrust::KeyType t, KeyTypeArg(type));
  return std::optional<edgetrust::KeyType>(t);
}

Result<edgetrust::SignOptions> SignOptionsArg(const char* algorithm) {
  edgetrust::SignOptions options;
  if (algorithm == nullptr) return options;
  auto parsed = edgetrust::ParseSignAlgorithm(algorithm);
  if (!parsed)
    return InvalidArgument(std::string("unknown signature algorithm '") + algorithm + "'");
  options.algorithm = *parsed;
  return options;
}

}  // namespace

extern "C" {

int et_abi_version(void) { return ET_ABI_VERSION; }

const char* et_last_error(void) { return t_last_error.c_str(); }

void et_free(void* buffer) {
  if (buffer == nullptr) return;
  auto* header = static_cast<AllocHeader*>(buffer) - 1;
  OPENSSL_cleanse(buffer, header->size);
  std::free(header);
}

et_status et_client_open(const char* socket_path, et_client** out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckOut(out, "out"));
    *out = nullptr;
    ET_ASSIGN_OR_RETURN(auto impl, edgetrust::Client::Connect(socket_path ? socket_path : ""));
    *out = new et_client{std::move(impl)};
    return Status::Ok();
  });
}

void et_client_close(et_client* client) {
  // Destruction only closes a socket and frees memory; nothing here is expected to throw.
  try {
    delete client;
  } catch (...) {
  }
}

et_status et_key_create(et_client* client, const char* name, const char* type) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(name, "name"));
    ET_RETURN_IF_ERROR(CheckString(type, "type"));
    ET_ASSIGN_OR_RETURN(edgetrust::KeyType t, KeyTypeArg(type));
    return client->impl->CreateKey(name, t).status();
  });
}

et_status et_key_delete(et_client* client, const char* key) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    return client->impl->DeleteKey(key);
  });
}

et_status et_key_public_pem(et_client* client, const char* key, char** pem_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    ET_RETURN_IF_ERROR(CheckOut(pem_out, "pem_out"));
    ET_ASSIGN_OR_RETURN(std::string pem, client->impl->PublicKeyPem(key));
    return GiveString(pem, pem_out);
  });
}

et_status et_key_list_json(et_client* client, char** json_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckOut(json_out, "json_out"));
    ET_ASSIGN_OR_RETURN(auto keys, client->impl->ListKeys());
    nlohmann::json array = nlohmann::json::array();
    for (const auto& k : keys) {
      array.push_back({{"name", k.name},
                       {"owner", k.owner},
                       {"type", k.type},
                       {"created", k.created},
                       {"state", k.state}});
    }
    // Replace rather than throw on invalid UTF-8: the text comes from the daemon.
    const std::string text = array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return GiveString(text, json_out);
  });
}

et_status et_sign(et_client* client, const char* key, const char* algorithm, const uint8_t* msg,
                  size_t msg_len, uint8_t** sig_out, size_t* sig_len_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    ET_RETURN_IF_ERROR(CheckOut(sig_out, "sig_out"));
    ET_RETURN_IF_ERROR(CheckOut(sig_len_out, "sig_len_out"));
    ET_ASSIGN_OR_RETURN(ByteView message, InputBytes(msg, msg_len, "msg"));
    ET_ASSIGN_OR_RETURN(auto options, SignOptionsArg(algorithm));
    ET_ASSIGN_OR_RETURN(auto sig, client->impl->Sign(key, message, options));
    return GiveBytes(sig, sig_out, sig_len_out);
  });
}

et_status et_verify(et_client* client, const char* key, const char* algorithm, const uint8_t* msg,
                    size_t msg_len, const uint8_t* sig, size_t sig_len, int* valid_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    ET_RETURN_IF_ERROR(CheckOut(valid_out, "valid_out"));
    ET_ASSIGN_OR_RETURN(ByteView message, InputBytes(msg, msg_len, "msg"));
    ET_ASSIGN_OR_RETURN(ByteView signature, InputBytes(sig, sig_len, "sig"));
    ET_ASSIGN_OR_RETURN(auto options, SignOptionsArg(algorithm));
    ET_ASSIGN_OR_RETURN(bool valid, client->impl->Verify(key, message, signature, options));
    *valid_out = valid ? 1 : 0;
    return Status::Ok();
  });
}

et_status et_encrypt(et_client* client, const char* key, const uint8_t* pt, size_t pt_len,
                     const uint8_t* aad, size_t aad_len, uint8_t** ct_out, size_t* ct_len_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    ET_RETURN_IF_ERROR(CheckOut(ct_out, "ct_out"));
    ET_RETURN_IF_ERROR(CheckOut(ct_len_out, "ct_len_out"));
    ET_ASSIGN_OR_RETURN(ByteView plaintext, InputBytes(pt, pt_len, "pt"));
    ET_ASSIGN_OR_RETURN(ByteView ad, InputBytes(aad, aad_len, "aad"));
    ET_ASSIGN_OR_RETURN(auto ct, client->impl->Encrypt(key, plaintext, ad));
    return GiveBytes(ct, ct_out, ct_len_out);
  });
}

et_status et_decrypt(et_client* client, const char* key, const uint8_t* ct, size_t ct_len,
                     const uint8_t* aad, size_t aad_len, uint8_t** pt_out, size_t* pt_len_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    ET_RETURN_IF_ERROR(CheckOut(pt_out, "pt_out"));
    ET_RETURN_IF_ERROR(CheckOut(pt_len_out, "pt_len_out"));
    ET_ASSIGN_OR_RETURN(ByteView ciphertext, InputBytes(ct, ct_len, "ct"));
    ET_ASSIGN_OR_RETURN(ByteView ad, InputBytes(aad, aad_len, "aad"));
    ET_ASSIGN_OR_RETURN(edgetrust::SecretBytes pt, client->impl->Decrypt(key, ciphertext, ad));
    return GiveBytes(pt.view(), pt_out, pt_len_out);
  });
}

et_status et_mac(et_client* client, const char* key, const uint8_t* data, size_t data_len,
                 uint8_t** mac_out, size_t* mac_len_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    ET_RETURN_IF_ERROR(CheckOut(mac_out, "mac_out"));
    ET_RETURN_IF_ERROR(CheckOut(mac_len_out, "mac_len_out"));
    ET_ASSIGN_OR_RETURN(ByteView input, InputBytes(data, data_len, "data"));
    ET_ASSIGN_OR_RETURN(auto mac, client->impl->Mac(key, input));
    return GiveBytes(mac, mac_out, mac_len_out);
  });
}

et_status et_derive(et_client* client, const char* base, const char* new_name, const uint8_t* info,
                    size_t info_len, const uint8_t* salt, size_t salt_len, const char* type) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(base, "base"));
    ET_RETURN_IF_ERROR(CheckString(new_name, "new_name"));
    ET_ASSIGN_OR_RETURN(ByteView info_bytes, InputBytes(info, info_len, "info"));
    ET_ASSIGN_OR_RETURN(ByteView salt_bytes, InputBytes(salt, salt_len, "salt"));
    ET_ASSIGN_OR_RETURN(auto key_type, OptionalKeyTypeArg(type));
    return client->impl->Derive(base, new_name, info_bytes, salt_bytes, key_type).status();
  });
}

et_status et_ecdh(et_client* client, const char* key, const uint8_t* peer_public,
                  size_t peer_public_len, const char* new_name, const uint8_t* info,
                  size_t info_len, const char* type) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(key, "key"));
    ET_RETURN_IF_ERROR(CheckString(new_name, "new_name"));
    ET_ASSIGN_OR_RETURN(ByteView peer, InputBytes(peer_public, peer_public_len, "peer_public"));
    ET_ASSIGN_OR_RETURN(ByteView info_bytes, InputBytes(info, info_len, "info"));
    ET_ASSIGN_OR_RETURN(auto key_type, OptionalKeyTypeArg(type));
    return client->impl->Ecdh(key, peer, new_name, info_bytes, key_type).status();
  });
}

et_status et_random(et_client* client, uint8_t* out, size_t len) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    if (out == nullptr && len != 0) return InvalidArgument("out is NULL but len is not 0");
    ET_ASSIGN_OR_RETURN(auto bytes, client->impl->Random(len));
    if (bytes.size() != len)
      return Status(ErrorCode::kInternal, "daemon returned the wrong number of random bytes");
    std::memcpy(out, bytes.data(), len);
    edgetrust::SecureWipe(bytes.data(), bytes.size());  // may be used as key material
    return Status::Ok();
  });
}

et_status et_seal(et_client* client, const uint8_t* data, size_t data_len, uint32_t register_mask,
                  uint8_t** blob_out, size_t* blob_len_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckOut(blob_out, "blob_out"));
    ET_RETURN_IF_ERROR(CheckOut(blob_len_out, "blob_len_out"));
    ET_ASSIGN_OR_RETURN(ByteView input, InputBytes(data, data_len, "data"));
    std::vector<uint32_t> registers;
    for (uint32_t i = 0; i < 32; ++i) {
      if ((register_mask >> i) & 1u) registers.push_back(i);
    }
    ET_ASSIGN_OR_RETURN(auto blob, client->impl->Seal(input, registers));
    return GiveBytes(blob, blob_out, blob_len_out);
  });
}

et_status et_unseal(et_client* client, const uint8_t* blob, size_t blob_len, uint8_t** data_out,
                    size_t* data_len_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckOut(data_out, "data_out"));
    ET_RETURN_IF_ERROR(CheckOut(data_len_out, "data_len_out"));
    ET_ASSIGN_OR_RETURN(ByteView input, InputBytes(blob, blob_len, "blob"));
    ET_ASSIGN_OR_RETURN(edgetrust::SecretBytes data, client->impl->Unseal(input));
    return GiveBytes(data.view(), data_out, data_len_out);
  });
}

et_status et_measure_extend(et_client* client, uint32_t index, const uint8_t digest[32],
                            const char* event, uint8_t new_value_out[32]) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckOut(digest, "digest"));
    ET_RETURN_IF_ERROR(CheckString(event, "event"));
    edgetrust::Digest256 d{};
    std::memcpy(d.data(), digest, d.size());
    ET_ASSIGN_OR_RETURN(auto extended, client->impl->Extend(index, d, event));
    if (new_value_out != nullptr) {
      std::memcpy(new_value_out, extended.value.data(), extended.value.size());
    }
    return Status::Ok();
  });
}

et_status et_measure_read(et_client* client, uint8_t values_out[16 * 32]) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckOut(values_out, "values_out"));
    ET_ASSIGN_OR_RETURN(auto snapshot, client->impl->ReadRegisters());
    for (size_t i = 0; i < snapshot.values.size(); ++i) {
      std::memcpy(values_out + 32 * i, snapshot.values[i].data(), 32);
    }
    return Status::Ok();
  });
}

et_status et_counter_create(et_client* client, const char* name) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(name, "name"));
    return client->impl->CreateCounter(name).status();
  });
}

et_status et_counter_increment(et_client* client, const char* name, uint64_t* value_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(name, "name"));
    ET_RETURN_IF_ERROR(CheckOut(value_out, "value_out"));
    ET_ASSIGN_OR_RETURN(*value_out, client->impl->IncrementCounter(name));
    return Status::Ok();
  });
}

et_status et_counter_read(et_client* client, const char* name, uint64_t* value_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckString(name, "name"));
    ET_RETURN_IF_ERROR(CheckOut(value_out, "value_out"));
    ET_ASSIGN_OR_RETURN(*value_out, client->impl->ReadCounter(name));
    return Status::Ok();
  });
}

et_status et_attest(et_client* client, const uint8_t* nonce, size_t nonce_len,
                    uint8_t** evidence_out, size_t* evidence_len_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckOut(evidence_out, "evidence_out"));
    ET_RETURN_IF_ERROR(CheckOut(evidence_len_out, "evidence_len_out"));
    ET_ASSIGN_OR_RETURN(ByteView n, InputBytes(nonce, nonce_len, "nonce"));
    ET_ASSIGN_OR_RETURN(auto evidence, client->impl->Attest(n));
    return GiveBytes(evidence, evidence_out, evidence_len_out);
  });
}

et_status et_attestation_key_pem(et_client* client, char** pem_out) {
  return Guard([&]() -> Status {
    ET_RETURN_IF_ERROR(CheckClient(client));
    ET_RETURN_IF_ERROR(CheckOut(pem_out, "pem_out"));
    ET_ASSIGN_OR_RETURN(std::string pem, client->impl->AttestationKeyPem());
    return GiveString(pem, pem_out);
  });
}

}  // extern "C"
