/*
 * edgetrust.h: the stable C ABI of libedgetrust, the client of the EdgeTrust secure-domain
 * daemon (edgetrust-sd).
 *
 * Rules
 * - Versioning: ET_ABI_VERSION is bumped only by additions; no function changes its signature or
 *   meaning once released. et_abi_version() returns the version the library was built with.
 * - Errors: every function that can fail returns an et_status (0 = ET_OK). The codes equal the
 *   wire status codes of the protocol (docs/protocol.md). et_last_error() returns a text for the
 *   last failure *of the calling thread*; it stays valid until that thread's next call.
 * - Ownership: out-parameters of type uint8_t** / char** receive memory the library allocated;
 *   release it with et_free() (buffers holding plaintext are wiped before they are freed).
 *   Input pointers are borrowed for the duration of the call only. A NULL data pointer with a zero
 *   length is an empty input.
 * - Thread safety: one et_client may be used from several threads at once; requests are pipelined
 *   on its one connection. et_client_close() must not race with other calls on the same client.
 * - Keys are named: "NAME" for the caller's own key, "PRINCIPAL/NAME" for a key another principal
 *   granted to the caller. Key material never crosses this interface.
 */
#ifndef EDGETRUST_EDGETRUST_H_
#define EDGETRUST_EDGETRUST_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ET_ABI_VERSION 2

typedef enum et_status {
  ET_OK = 0,
  ET_E_INVALID_ARGUMENT = 1,
  ET_E_NOT_FOUND = 2,
  ET_E_ALREADY_EXISTS = 3,
  ET_E_PERMISSION_DENIED = 4,
  ET_E_UNSUPPORTED = 5,
  ET_E_TAMPERED = 6,
  ET_E_VERIFY_FAILED = 7,
  ET_E_MALFORMED = 8,
  ET_E_TOO_LARGE = 9,
  ET_E_INTERNAL = 10,
  ET_E_UNAVAILABLE = 11,
  ET_E_RESOURCE_EXHAUSTED = 12,
  ET_E_IO_ERROR = 13,
  ET_E_FAILED_PRECONDITION = 14
} et_status;

typedef struct et_client et_client;

int et_abi_version(void);
const char* et_last_error(void);
void et_free(void* buffer);

/* socket_path NULL or "": $EDGETRUST_SOCKET, then /run/edgetrust/sd.sock. */
et_status et_client_open(const char* socket_path, et_client** out);
void et_client_close(et_client* client);

/* type: "ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072", "aes-256", "hmac-sha256". */
et_status et_key_create(et_client* client, const char* name, const char* type);
et_status et_key_delete(et_client* client, const char* key);
/* NUL-terminated PEM SubjectPublicKeyInfo; free with et_free(). */
et_status et_key_public_pem(et_client* client, const char* key, char** pem_out);
/* JSON array of {"name","owner","type","created","state"}; free with et_free(). */
et_status et_key_list_json(et_client* client, char** json_out);

/* algorithm NULL: the key type's default ("ecdsa-sha256", "rsa-pss-sha256", "ed25519", ...). */
et_status et_sign(et_client* client, const char* key, const char* algorithm, const uint8_t* msg,
                  size_t msg_len, uint8_t** sig_out, size_t* sig_len_out);
/* *valid_out is 1 for a valid signature, 0 for an invalid one. */
et_status et_verify(et_client* client, const char* key, const char* algorithm, const uint8_t* msg,
                    size_t msg_len, const uint8_t* sig, size_t sig_len, int* valid_out);

et_status et_encrypt(et_client* client, const char* key, const uint8_t* pt, size_t pt_len,
                     const uint8_t* aad, size_t aad_len, uint8_t** ct_out, size_t* ct_len_out);
et_status et_decrypt(et_client* client, const char* key, const uint8_t* ct, size_t ct_len,
                     const uint8_t* aad, size_t aad_len, uint8_t** pt_out, size_t* pt_len_out);

et_status et_mac(et_client* client, const char* key, const uint8_t* data, size_t data_len,
                 uint8_t** mac_out, size_t* mac_len_out);

/* type NULL: the base key's type (derive) or "hmac-sha256" (ecdh). */
et_status et_derive(et_client* client, const char* base, const char* new_name, const uint8_t* info,
                    size_t info_len, const uint8_t* salt, size_t salt_len, const char* type);
et_status et_ecdh(et_client* client, const char* key, const uint8_t* peer_public,
                  size_t peer_public_len, const char* new_name, const uint8_t* info,
                  size_t info_len, const char* type);

et_status et_random(et_client* client, uint8_t* out, size_t len);

/* --- Added in ABI version 2 --------------------------------------------------------------- */

/* Seals data (at most 1 MiB) for the caller's principal on this secure domain. register_mask:
 * bit i binds the blob to the current value of measurement register i (0: no binding). */
et_status et_seal(et_client* client, const uint8_t* data, size_t data_len, uint32_t register_mask,
                  uint8_t** blob_out, size_t* blob_len_out);
/* ET_E_TAMPERED: altered blob; ET_E_PERMISSION_DENIED: another principal's blob;
 * ET_E_FAILED_PRECONDITION: a bound register changed since sealing. */
et_status et_unseal(et_client* client, const uint8_t* blob, size_t blob_len, uint8_t** data_out,
                    size_t* data_len_out);

/* Extends register `index` (0-15) with a 32-byte SHA-256 digest; `event` (at most 255 bytes of
 * printable UTF-8) is recorded in the event log. new_value_out (32 bytes) may be NULL. */
et_status et_measure_extend(et_client* client, uint32_t index, const uint8_t digest[32],
                            const char* event, uint8_t new_value_out[32]);
/* values_out receives 16 * 32 bytes: every register in index order. */
et_status et_measure_read(et_client* client, uint8_t values_out[16 * 32]);

/* Monotonic counters of the caller's principal ("NAME"; admins: "OWNER/NAME"). */
et_status et_counter_create(et_client* client, const char* name);
et_status et_counter_increment(et_client* client, const char* name, uint64_t* value_out);
et_status et_counter_read(et_client* client, const char* name, uint64_t* value_out);

/* Evidence (an EAT in a COSE_Sign1, docs/attestation.md) over the current registers with the
 * verifier's nonce (8 to 64 bytes). */
et_status et_attest(et_client* client, const uint8_t* nonce, size_t nonce_len,
                    uint8_t** evidence_out, size_t* evidence_len_out);
/* NUL-terminated PEM of the attestation key; free with et_free(). */
et_status et_attestation_key_pem(et_client* client, char** pem_out);

#ifdef __cplusplus
}
#endif

#endif /* EDGETRUST_EDGETRUST_H_ */
