// The provider's entry point: reads its configuration, makes its child library context, and
// tells OpenSSL which operations it offers (key management, signatures, the store, decoders).
#include "provider/provider.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdarg>
#include <new>
#include <utility>

#include "edgetrust/status.h"

namespace edgetrust::provider {
namespace {

constexpr char kVersion[] = EDGETRUST_VERSION;

const OSSL_ITEM kReasonStrings[] = {
    {kReasonDaemon, const_cast<char*>("secure-domain operation failed")},
    {kReasonBadUri, const_cast<char*>("bad edgetrust key reference")},
    {kReasonUnsupported, const_cast<char*>("not supported by edgetrust keys")},
    {kReasonNoPrivateKey, const_cast<char*>("no secure-domain key")},
    {kReasonInternal, const_cast<char*>("internal error")},
    {0, nullptr}};

const OSSL_ITEM* GetReasonStrings(void* /*provctx*/) { return kReasonStrings; }

const OSSL_PARAM kGettable[] = {OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, nullptr, 0),
                                OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, nullptr, 0),
                                OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, nullptr, 0),
                                OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, nullptr), OSSL_PARAM_END};

const OSSL_PARAM* GettableParams(void* /*provctx*/) { return kGettable; }

int GetParams(void* /*provctx*/, OSSL_PARAM params[]) {
  OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
  if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, "EdgeTrust secure-domain key provider") != 1)
    return 0;
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
  if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, kVersion) != 1) return 0;
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
  if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, kVersion) != 1) return 0;
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
  if (p != nullptr && OSSL_PARAM_set_int(p, 1) != 1) return 0;
  return 1;
}

const OSSL_ALGORITHM* QueryOperation(void* /*provctx*/, int operation_id, int* no_cache) {
  *no_cache = 0;
  switch (operation_id) {
    case OSSL_OP_KEYMGMT:
      return kKeymgmtAlgorithms;
    case OSSL_OP_SIGNATURE:
      return kSignatureAlgorithms;
    case OSSL_OP_STORE:
      return kStoreAlgorithms;
    case OSSL_OP_DECODER:
      return kDecoderAlgorithms;
    case OSSL_OP_ENCODER:
      return kEncoderAlgorithms;
    default:
      return nullptr;
  }
}

void Teardown(void* provctx) {
  auto* ctx = static_cast<ProviderCtx*>(provctx);
  OSSL_LIB_CTX_free(ctx->libctx);
  delete ctx;
}

using Fn = void (*)(void);
const OSSL_DISPATCH kProviderFunctions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<Fn>(Teardown)},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<Fn>(GettableParams)},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<Fn>(GetParams)},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<Fn>(QueryOperation)},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, reinterpret_cast<Fn>(GetReasonStrings)},
    {0, nullptr}};

void VRaise(const ProviderCtx* ctx, int reason, const char* fmt, ...) {
  if (ctx == nullptr || ctx->new_error == nullptr || ctx->vset_error == nullptr) return;
  va_list ap;
  va_start(ap, fmt);
  ctx->new_error(ctx->handle);
  if (ctx->set_error_debug != nullptr) ctx->set_error_debug(ctx->handle, nullptr, 0, nullptr);
  ctx->vset_error(ctx->handle, static_cast<uint32_t>(reason), fmt, ap);
  va_end(ap);
}

thread_local Status last_error;

}  // namespace

void RaiseError(const ProviderCtx* ctx, int reason, const std::string& detail) {
  const ErrorCode code = reason == kReasonBadUri        ? ErrorCode::kInvalidArgument
                         : reason == kReasonUnsupported ? ErrorCode::kUnsupported
                                                        : ErrorCode::kInternal;
  last_error = Status(code, detail);
  VRaise(ctx, reason, "edgetrust: %s", detail.c_str());
}

void RaiseStatus(const ProviderCtx* ctx, const Status& status) {
  last_error = status;
  VRaise(ctx, kReasonDaemon, "edgetrust: %s", status.ToString().c_str());
}

Status TakeLastError() { return std::exchange(last_error, Status::Ok()); }

extern "C" int EdgetrustProviderInit(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                     const OSSL_DISPATCH** out, void** provctx) {
  auto* ctx = new (std::nothrow) ProviderCtx();
  if (ctx == nullptr) return 0;
  ctx->handle = handle;
  OSSL_FUNC_core_get_params_fn* get_params = nullptr;
  for (const OSSL_DISPATCH* f = in; f->function_id != 0; ++f) {
    switch (f->function_id) {
      case OSSL_FUNC_CORE_GET_PARAMS:
        get_params = OSSL_FUNC_core_get_params(f);
        break;
      case OSSL_FUNC_CORE_NEW_ERROR:
        ctx->new_error = OSSL_FUNC_core_new_error(f);
        break;
      case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
        ctx->set_error_debug = OSSL_FUNC_core_set_error_debug(f);
        break;
      case OSSL_FUNC_CORE_VSET_ERROR:
        ctx->vset_error = OSSL_FUNC_core_vset_error(f);
        break;
      default:
        break;
    }
  }
  // openssl.cnf: "socket = /run/edgetrust/sd.sock" in the provider's section.
  if (get_params != nullptr) {
    char* socket = nullptr;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_ptr("socket", &socket, 0),
                           OSSL_PARAM_construct_end()};
    if (get_params(handle, params) == 1 && socket != nullptr) ctx->socket = socket;
  }
  // Public operations run in a child of the caller's context: the same providers (the default
  // provider, FIPS, ...) minus ourselves, so nothing we delegate comes back to us.
  ctx->libctx = OSSL_LIB_CTX_new_child(handle, in);
  if (ctx->libctx == nullptr || EVP_set_default_properties(ctx->libctx, kNotUs) != 1) {
    OSSL_LIB_CTX_free(ctx->libctx);
    delete ctx;
    return 0;
  }
  *out = kProviderFunctions;
  *provctx = ctx;
  return 1;
}

}  // namespace edgetrust::provider
