/*
 * c_abi_check: proves that edgetrust.h is usable from plain C11 and that the C ABI round-trips
 * against a running edgetrust-sd. Usage: c_abi_check SOCKET_PATH
 *
 * It creates its own keys ("c-abi-key", "c-abi-aes"), exercises sign/verify, encrypt/decrypt and
 * argument validation, and deletes the keys again. Prints "c_abi_check: ok" and exits 0 on
 * success; on the first failure prints what failed (with et_last_error()) and exits 1.
 */
#include <edgetrust/edgetrust.h>
#include <stdio.h>
#include <string.h>

static const char kSignKey[] = "c-abi-key";
static const char kAesKey[] = "c-abi-aes";

static int fail(const char* what, et_status st) {
  fprintf(stderr, "c_abi_check: %s failed: status %d: %s\n", what, (int)st, et_last_error());
  return 1;
}

static int fail_text(const char* what) {
  fprintf(stderr, "c_abi_check: %s\n", what);
  return 1;
}

/* Leftovers of an earlier, interrupted run would make et_key_create fail with ALREADY_EXISTS. */
static void remove_leftovers(et_client* client) {
  (void)et_key_delete(client, kSignKey);
  (void)et_key_delete(client, kAesKey);
}

static int check_sign_verify(et_client* client) {
  static const uint8_t msg[] = {'h', 'e', 'l', 'l', 'o'};
  uint8_t* sig = NULL;
  size_t sig_len = 0;
  int valid = -1;
  et_status st;
  int rc = 0;

  st = et_key_create(client, kSignKey, "ecdsa-p256");
  if (st != ET_OK) return fail("et_key_create(ecdsa-p256)", st);
  st = et_sign(client, kSignKey, NULL, msg, sizeof msg, &sig, &sig_len);
  if (st != ET_OK) return fail("et_sign", st);
  if (sig == NULL || sig_len == 0) {
    rc = fail_text("et_sign returned an empty signature");
    goto out;
  }
  st = et_verify(client, kSignKey, NULL, msg, sizeof msg, sig, sig_len, &valid);
  if (st != ET_OK) {
    rc = fail("et_verify", st);
    goto out;
  }
  if (valid != 1) {
    rc = fail_text("a fresh signature did not verify");
    goto out;
  }
  /* Flip a bit in the last byte, inside the value of s, so the DER stays well-formed: the
   * signature must now be reported invalid rather than fail to parse. */
  sig[sig_len - 1] ^= 0x01;
  valid = -1;
  st = et_verify(client, kSignKey, "ecdsa-sha256", msg, sizeof msg, sig, sig_len, &valid);
  if (st != ET_OK) {
    rc = fail("et_verify(flipped signature)", st);
    goto out;
  }
  if (valid != 0) rc = fail_text("a flipped signature verified");
out:
  et_free(sig);
  return rc;
}

static int check_encrypt_decrypt(et_client* client) {
  static const char plaintext[] = "attack at dawn";
  static const char aad[] = "header";
  uint8_t* ct = NULL;
  size_t ct_len = 0;
  uint8_t* pt = NULL;
  size_t pt_len = 0;
  et_status st;
  int rc = 0;

  st = et_key_create(client, kAesKey, "aes-256");
  if (st != ET_OK) return fail("et_key_create(aes-256)", st);
  st = et_encrypt(client, kAesKey, (const uint8_t*)plaintext, strlen(plaintext),
                  (const uint8_t*)aad, strlen(aad), &ct, &ct_len);
  if (st != ET_OK) return fail("et_encrypt", st);
  /* nonce (12) | ciphertext | tag (16) */
  if (ct_len != strlen(plaintext) + 28) {
    rc = fail_text("ciphertext has the wrong length");
    goto out;
  }
  st = et_decrypt(client, kAesKey, ct, ct_len, (const uint8_t*)aad, strlen(aad), &pt, &pt_len);
  if (st != ET_OK) {
    rc = fail("et_decrypt", st);
    goto out;
  }
  if (pt_len != strlen(plaintext) || memcmp(pt, plaintext, pt_len) != 0) {
    rc = fail_text("decrypt did not return the plaintext");
    goto out;
  }
out:
  et_free(pt);
  et_free(ct);
  return rc;
}

static int check_invalid_type(et_client* client) {
  et_status st = et_key_create(client, "c-abi-bad", "no-such-type");
  if (st != ET_E_INVALID_ARGUMENT) {
    fprintf(stderr, "c_abi_check: et_key_create(no-such-type) returned %d, want %d\n", (int)st,
            (int)ET_E_INVALID_ARGUMENT);
    return 1;
  }
  if (et_last_error() == NULL || et_last_error()[0] == '\0') {
    return fail_text("et_last_error() is empty after a failed call");
  }
  return 0;
}

/* Seal and unseal, a register-bound blob that stops opening, a counter, evidence. */
static int check_seal_measure_attest(et_client* client) {
  static const uint8_t kData[] = "sealed by C";
  uint8_t digest[32], value[32], values[16 * 32];
  uint8_t *blob = NULL, *out = NULL, *evidence = NULL;
  size_t blob_len = 0, out_len = 0, evidence_len = 0;
  uint64_t counter = 0;
  char* pem = NULL;
  int rc = 0;
  et_status st;

  memset(digest, 0x5a, sizeof digest);
  st = et_seal(client, kData, sizeof kData, 1u << 12, &blob, &blob_len);
  if (st != ET_OK) return fail("et_seal", st);
  st = et_unseal(client, blob, blob_len, &out, &out_len);
  if (st != ET_OK) {
    rc = fail("et_unseal", st);
    goto done;
  }
  if (out_len != sizeof kData || memcmp(out, kData, out_len) != 0) {
    rc = fail_text("et_unseal did not return the sealed data");
    goto done;
  }
  st = et_measure_extend(client, 12, digest, "c abi check", value);
  if (st != ET_OK) {
    rc = fail("et_measure_extend", st);
    goto done;
  }
  st = et_measure_read(client, values);
  if (st != ET_OK || memcmp(values + 12 * 32, value, 32) != 0) {
    rc = fail_text("et_measure_read does not show the extended register");
    goto done;
  }
  et_free(out);
  out = NULL;
  st = et_unseal(client, blob, blob_len, &out, &out_len);
  if (st != ET_E_FAILED_PRECONDITION) {
    fprintf(stderr, "c_abi_check: unseal after extend returned %d, want %d\n", (int)st,
            (int)ET_E_FAILED_PRECONDITION);
    rc = 1;
    goto done;
  }
  st = et_counter_create(client, "c-abi-counter");
  if (st != ET_OK && st != ET_E_ALREADY_EXISTS) {
    rc = fail("et_counter_create", st);
    goto done;
  }
  st = et_counter_read(client, "c-abi-counter", &counter);
  if (st == ET_OK) {
    uint64_t before = counter;
    st = et_counter_increment(client, "c-abi-counter", &counter);
    if (st == ET_OK && counter != before + 1) {
      rc = fail_text("et_counter_increment did not add one");
      goto done;
    }
  }
  if (st != ET_OK) {
    rc = fail("et_counter_*", st);
    goto done;
  }
  st = et_attest(client, digest, 16, &evidence, &evidence_len);
  if (st != ET_OK || evidence_len < 100 || evidence[0] != 0xd2) { /* CBOR tag 18 */
    rc = st != ET_OK ? fail("et_attest", st) : fail_text("et_attest: not a tagged COSE_Sign1");
    goto done;
  }
  st = et_attestation_key_pem(client, &pem);
  if (st != ET_OK || strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) != 0) {
    rc = st != ET_OK ? fail("et_attestation_key_pem", st) : fail_text("attestation key not PEM");
  }
done:
  et_free(pem);
  et_free(evidence);
  et_free(out);
  et_free(blob);
  return rc;
}

int main(int argc, char** argv) {
  et_client* client = NULL;
  et_status st;
  int rc = 0;

  if (argc != 2) {
    fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
    return 1;
  }
  if (et_abi_version() != ET_ABI_VERSION)
    return fail_text("et_abi_version() does not match the header");
  st = et_client_open(argv[1], &client);
  if (st != ET_OK) return fail("et_client_open", st);

  remove_leftovers(client);
  rc = check_sign_verify(client);
  if (rc == 0) rc = check_encrypt_decrypt(client);
  if (rc == 0) rc = check_invalid_type(client);
  if (rc == 0) rc = check_seal_measure_attest(client);

  /* Clean up whatever happened above, but report a failed delete only on an otherwise good run. */
  st = et_key_delete(client, kSignKey);
  if (rc == 0 && st != ET_OK) rc = fail("et_key_delete(c-abi-key)", st);
  st = et_key_delete(client, kAesKey);
  if (rc == 0 && st != ET_OK) rc = fail("et_key_delete(c-abi-aes)", st);
  et_client_close(client);

  if (rc == 0) printf("c_abi_check: ok\n");
  return rc;
}
