#include "softhsm_peer.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "common/openssl_ptr.h"

namespace edgetrust::bench {
namespace {

constexpr char kLabel[] = "edgetrust-bench";
constexpr char kSoPin[] = "bench-so-pin";
constexpr char kUserPin[] = "bench-user-pin";

// DER of the curve OIDs, as CKA_EC_PARAMS wants them.
constexpr CK_BYTE kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr CK_BYTE kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
// RFC 8410 names the curve by OID; PKCS#11 3.0 also allows the printable string.
constexpr CK_BYTE kEd25519Name[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                    'd',  's',  '2', '5', '5', '1', '9'};

Status Check(CK_RV rv, const char* call) {
  if (rv == CKR_OK) return Status::Ok();
  char text[96];
  std::snprintf(text, sizeof text, "%s failed: CKR 0x%lx", call, static_cast<unsigned long>(rv));
  return Status(ErrorCode::kInternal, text);
}

// PKCS#11 strings are fixed-width and blank-padded.
std::string Trimmed(const unsigned char* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

CK_UTF8CHAR_PTR Pin(const char* pin) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin));
}

size_t Index(SoftHsmPeer::Op op) { return static_cast<size_t>(op); }

}  // namespace

struct SoftHsmPeer::Impl {
  void* module = nullptr;
  CK_FUNCTION_LIST* p11 = nullptr;
  bool initialized = false;
  std::string dir;
  std::optional<std::string> old_conf;
  bool conf_set = false;
  CK_SLOT_ID slot = 0;
  // Kept open: PKCS#11 logins belong to the token and last while any session is open.
  CK_SESSION_HANDLE login_session = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE keys[4] = {CK_INVALID_HANDLE, CK_INVALID_HANDLE, CK_INVALID_HANDLE,
                              CK_INVALID_HANDLE};
  std::string description;

  ~Impl() {
    if (initialized) {
      p11->C_CloseAllSessions(slot);
      p11->C_Finalize(nullptr);
    }
    if (module != nullptr) ::dlclose(module);
    if (conf_set) {
      if (old_conf) {
        ::setenv("SOFTHSM2_CONF", old_conf->c_str(), 1);
      } else {
        ::unsetenv("SOFTHSM2_CONF");
      }
    }
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  Status MakeToken();
  Status InitToken();
  Status GenerateKeys();
  Status GenerateKeyPair(Op op, CK_MECHANISM_TYPE mech, const CK_BYTE* params, size_t params_len);
};

// The configuration and the token folder, in a fresh temporary directory.
Status SoftHsmPeer::Impl::MakeToken() {
  char tmpl[] = "/tmp/edgetrust-softhsm-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Status(ErrorCode::kIoError, "mkdtemp failed");
  dir = tmpl;
  std::error_code ec;
  std::filesystem::create_directory(dir + "/tokens", ec);
  if (ec) return Status(ErrorCode::kIoError, "cannot create " + dir + "/tokens");
  const std::string conf = dir + "/softhsm2.conf";
  {
    std::ofstream out(conf);
    out << "directories.tokendir = " << dir << "/tokens\n"
        << "objectstore.backend = file\n"
        << "log.level = ERROR\n"
        << "slots.removable = false\n";
    if (!out) return Status(ErrorCode::kIoError, "cannot write " + conf);
  }
  if (const char* old = std::getenv("SOFTHSM2_CONF"); old != nullptr) old_conf = old;
  ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  conf_set = true;
  return Status::Ok();
}

Status SoftHsmPeer::Impl::InitToken() {
  CK_ULONG count = 0;
  ET_RETURN_IF_ERROR(Check(p11->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList"));
  if (count == 0) return Status(ErrorCode::kInternal, "SoftHSM offers no slot");
  std::vector<CK_SLOT_ID> slots(count);
  ET_RETURN_IF_ERROR(Check(p11->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList"));
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  std::memcpy(label, kLabel, sizeof kLabel - 1);
  ET_RETURN_IF_ERROR(
      Check(p11->C_InitToken(slots[0], Pin(kSoPin), std::strlen(kSoPin), label), "C_InitToken"));
  // SoftHSM moves an initialised token to a new slot id: find it again by its label.
  count = 0;
  ET_RETURN_IF_ERROR(Check(p11->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList"));
  slots.assign(count, 0);
  ET_RETURN_IF_ERROR(Check(p11->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList"));
  bool found = false;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info{};
    if (p11->C_GetTokenInfo(s, &info) == CKR_OK && Trimmed(info.label, 32) == kLabel) {
      slot = s;
      found = true;
      break;
    }
  }
  if (!found) return Status(ErrorCode::kInternal, "initialised token not found");
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  ET_RETURN_IF_ERROR(
      Check(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h),
            "C_OpenSession"));
  login_session = h;
  ET_RETURN_IF_ERROR(
      Check(p11->C_Login(h, CKU_SO, Pin(kSoPin), std::strlen(kSoPin)), "C_Login(SO)"));
  ET_RETURN_IF_ERROR(Check(p11->C_InitPIN(h, Pin(kUserPin), std::strlen(kUserPin)), "C_InitPIN"));
  ET_RETURN_IF_ERROR(Check(p11->C_Logout(h), "C_Logout"));
  return Check(p11->C_Login(h, CKU_USER, Pin(kUserPin), std::strlen(kUserPin)), "C_Login(user)");
}

Status SoftHsmPeer::Impl::GenerateKeyPair(Op op, CK_MECHANISM_TYPE mech, const CK_BYTE* params,
                                          size_t params_len) {
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE pub[] = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_VERIFY, &yes, sizeof yes},
      {CKA_EC_PARAMS, const_cast<CK_BYTE*>(params), params_len},
  };
  CK_ATTRIBUTE priv[] = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_SIGN, &yes, sizeof yes},
  };
  CK_MECHANISM m{mech, nullptr, 0};
  CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv_h = CK_INVALID_HANDLE;
  ET_RETURN_IF_ERROR(Check(p11->C_GenerateKeyPair(login_session, &m, pub, std::size(pub), priv,
                                                  std::size(priv), &pub_h, &priv_h),
                           "C_GenerateKeyPair"));
  keys[Index(op)] = priv_h;
  return Status::Ok();
}

Status SoftHsmPeer::Impl::GenerateKeys() {
  ET_RETURN_IF_ERROR(
      GenerateKeyPair(Op::kEcdsaP256Sign, CKM_EC_KEY_PAIR_GEN, kP256Oid, sizeof kP256Oid));
  // Ed25519 is optional: older SoftHSM builds lack it, and builds differ in how they want the
  // curve named.
  if (!GenerateKeyPair(Op::kEd25519Sign, CKM_EC_EDWARDS_KEY_PAIR_GEN, kEd25519Oid,
                       sizeof kEd25519Oid)
           .ok()) {
    (void)GenerateKeyPair(Op::kEd25519Sign, CKM_EC_EDWARDS_KEY_PAIR_GEN, kEd25519Name,
                          sizeof kEd25519Name);
  }
  CK_BBOOL yes = CK_TRUE;
  CK_ULONG len = 32;
  CK_ATTRIBUTE hmac[] = {
      {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_SIGN, &yes, sizeof yes},
      {CKA_VALUE_LEN, &len, sizeof len},
  };
  CK_MECHANISM gen{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  ET_RETURN_IF_ERROR(Check(
      p11->C_GenerateKey(login_session, &gen, hmac, std::size(hmac), &keys[Index(Op::kHmacSha256)]),
      "C_GenerateKey(generic secret)"));
  CK_ATTRIBUTE aes[] = {
      {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_ENCRYPT, &yes, sizeof yes},
      {CKA_VALUE_LEN, &len, sizeof len},
  };
  CK_MECHANISM aes_gen{CKM_AES_KEY_GEN, nullptr, 0};
  return Check(p11->C_GenerateKey(login_session, &aes_gen, aes, std::size(aes),
                                  &keys[Index(Op::kAes256GcmEncrypt)]),
               "C_GenerateKey(AES)");
}

SoftHsmPeer::SoftHsmPeer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SoftHsmPeer::~SoftHsmPeer() = default;

Result<std::unique_ptr<SoftHsmPeer>> SoftHsmPeer::Create(const std::string& module) {
  auto impl = std::make_unique<Impl>();
  impl->module = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (impl->module == nullptr) {
    const char* err = ::dlerror();
    return Status(ErrorCode::kUnavailable,
                  "cannot load " + module + ": " + (err != nullptr ? err : "unknown error"));
  }
  auto get_list =
      reinterpret_cast<CK_C_GetFunctionList>(::dlsym(impl->module, "C_GetFunctionList"));
  if (get_list == nullptr)
    return Status(ErrorCode::kUnavailable, module + " has no C_GetFunctionList");
  ET_RETURN_IF_ERROR(Check(get_list(&impl->p11), "C_GetFunctionList"));
  ET_RETURN_IF_ERROR(impl->MakeToken());
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  ET_RETURN_IF_ERROR(Check(impl->p11->C_Initialize(&args), "C_Initialize"));
  impl->initialized = true;
  CK_INFO info{};
  ET_RETURN_IF_ERROR(Check(impl->p11->C_GetInfo(&info), "C_GetInfo"));
  impl->description = Trimmed(info.manufacturerID, 32) + " " +
                      std::to_string(info.libraryVersion.major) + "." +
                      std::to_string(info.libraryVersion.minor);
  ET_RETURN_IF_ERROR(impl->InitToken());
  ET_RETURN_IF_ERROR(impl->GenerateKeys());
  return std::unique_ptr<SoftHsmPeer>(new SoftHsmPeer(std::move(impl)));
}

bool SoftHsmPeer::Supports(Op op) const { return impl_->keys[Index(op)] != CK_INVALID_HANDLE; }

const std::string& SoftHsmPeer::description() const { return impl_->description; }

struct SoftHsmPeer::Session::State {
  Impl* impl = nullptr;
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  const EVP_MD* sha256 = nullptr;
  std::vector<CK_BYTE> out;  // output buffer, reused
};

SoftHsmPeer::Session::Session(std::unique_ptr<State> state) : state_(std::move(state)) {}

SoftHsmPeer::Session::~Session() {
  if (state_->handle != CK_INVALID_HANDLE) state_->impl->p11->C_CloseSession(state_->handle);
}

Result<std::unique_ptr<SoftHsmPeer::Session>> SoftHsmPeer::OpenSession() {
  auto state = std::make_unique<Session::State>();
  state->impl = impl_.get();
  ET_RETURN_IF_ERROR(Check(
      impl_->p11->C_OpenSession(impl_->slot, CKF_SERIAL_SESSION, nullptr, nullptr, &state->handle),
      "C_OpenSession"));
  // Fetched once, like the in-process peer does: the hash is the caller's part of the work.
  static const std::unique_ptr<EVP_MD, OsslDeleter<EVP_MD_free>> sha256(
      EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
  state->sha256 = sha256.get();
  state->out.resize(2048);
  return std::unique_ptr<Session>(new Session(std::move(state)));
}

Status SoftHsmPeer::Session::Run(Op op, ByteView data) {
  State& s = *state_;
  CK_FUNCTION_LIST* p11 = s.impl->p11;
  const CK_OBJECT_HANDLE key = s.impl->keys[Index(op)];
  if (key == CK_INVALID_HANDLE) return Status(ErrorCode::kUnsupported, "no key for this operation");
  CK_BYTE* in = const_cast<CK_BYTE*>(data.data());
  CK_ULONG in_len = data.size();
  CK_ULONG out_len = s.out.size();
  switch (op) {
    case Op::kEcdsaP256Sign: {
      unsigned char digest[32];
      unsigned int dlen = 0;
      if (EVP_Digest(data.data(), data.size(), digest, &dlen, s.sha256, nullptr) != 1)
        return Status(ErrorCode::kInternal, "SHA-256 failed");
      CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
      ET_RETURN_IF_ERROR(Check(p11->C_SignInit(s.handle, &m, key), "C_SignInit"));
      return Check(p11->C_Sign(s.handle, digest, dlen, s.out.data(), &out_len), "C_Sign");
    }
    case Op::kEd25519Sign:
    case Op::kHmacSha256: {
      CK_MECHANISM m{op == Op::kEd25519Sign ? CKM_EDDSA : CKM_SHA256_HMAC, nullptr, 0};
      ET_RETURN_IF_ERROR(Check(p11->C_SignInit(s.handle, &m, key), "C_SignInit"));
      return Check(p11->C_Sign(s.handle, in, in_len, s.out.data(), &out_len), "C_Sign");
    }
    case Op::kAes256GcmEncrypt: {
      CK_BYTE nonce[12];
      if (RAND_bytes(nonce, sizeof nonce) != 1)
        return Status(ErrorCode::kInternal, "RAND_bytes failed");
      CK_GCM_PARAMS params{};
      params.pIv = nonce;
      params.ulIvLen = sizeof nonce;
      params.ulIvBits = sizeof nonce * 8;
      params.ulTagBits = 128;
      CK_MECHANISM m{CKM_AES_GCM, &params, sizeof params};
      if (s.out.size() < data.size() + 16) s.out.resize(data.size() + 16);
      out_len = s.out.size();
      ET_RETURN_IF_ERROR(Check(p11->C_EncryptInit(s.handle, &m, key), "C_EncryptInit"));
      return Check(p11->C_Encrypt(s.handle, in, in_len, s.out.data(), &out_len), "C_Encrypt");
    }
  }
  return Status(ErrorCode::kInvalidArgument, "unknown operation");
}

}  // namespace edgetrust::bench
