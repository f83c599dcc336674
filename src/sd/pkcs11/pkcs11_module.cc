#include "sd/pkcs11/pkcs11_module.h"

#include <dlfcn.h>

#include <map>

#include "sd/pkcs11/pkcs11_errors.h"

namespace edgetrust::sd::pkcs11 {
namespace {

// The modules this process has loaded, by path: shared while anyone holds them.
std::mutex g_registry_mu;
std::map<std::string, std::weak_ptr<Module>>& Registry() {
  static auto* registry = new std::map<std::string, std::weak_ptr<Module>>();
  return *registry;
}

}  // namespace

Result<std::shared_ptr<Module>> Module::Load(const std::string& path) {
  std::lock_guard lock(g_registry_mu);
  auto& registry = Registry();
  if (auto it = registry.find(path); it != registry.end()) {
    if (auto existing = it->second.lock()) return existing;
  }
  std::shared_ptr<Module> module(new Module());
  module->path_ = path;
  // RTLD_LOCAL: the module's own dependencies (its OpenSSL, its C++ runtime) stay out of our
  // symbol namespace. Never dlclose'd (see the header).
  ::dlerror();
  module->handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module->handle_ == nullptr) {
    const char* err = ::dlerror();
    return Status(ErrorCode::kInvalidArgument, "cannot load the PKCS#11 module " + path + ": " +
                                                   (err != nullptr ? err : "unknown dlopen error"));
  }
  auto get_list =
      reinterpret_cast<CK_C_GetFunctionList>(::dlsym(module->handle_, "C_GetFunctionList"));
  if (get_list == nullptr) {
    const char* err = ::dlerror();
    return Status(ErrorCode::kInvalidArgument,
                  path + " is not a PKCS#11 module (no C_GetFunctionList: " +
                      (err != nullptr ? err : "symbol missing") + ")");
  }
  CK_RV rv = get_list(&module->fn_);
  if (rv != CKR_OK || module->fn_ == nullptr) {
    return rv != CKR_OK ? CkrStatus("C_GetFunctionList", rv)
                        : Status(ErrorCode::kInvalidArgument,
                                 path + ": C_GetFunctionList returned no function list");
  }
  ET_RETURN_IF_ERROR(module->Initialize());
  CK_INFO info{};
  if (CK_RV r = module->fn_->C_GetInfo(&info); r != CKR_OK) {
    module->Finalize();  // here, under the registry lock, not in the destructor
    return CkrStatus("C_GetInfo", r);
  }
  module->description_ = Trimmed(info.manufacturerID, sizeof info.manufacturerID) + " " +
                         Trimmed(info.libraryDescription, sizeof info.libraryDescription) + " " +
                         std::to_string(info.libraryVersion.major) + "." +
                         std::to_string(info.libraryVersion.minor);
  registry[path] = module;
  return module;
}

Status Module::Initialize() {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = fn_->C_Initialize(&args);
  // Someone else in this process initialised the module (a library that loaded it without
  // going through Load()): usable, but not ours to finalise.
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    generation_.fetch_add(1);
    return Status::Ok();
  }
  if (rv != CKR_OK) return CkrStatus("C_Initialize", rv);
  initialized_ = true;
  generation_.fetch_add(1);
  return Status::Ok();
}

void Module::Finalize() {
  if (initialized_) fn_->C_Finalize(nullptr);
  initialized_ = false;
}

Module::~Module() {
  if (!initialized_) return;
  // Under the registry lock, so that a Load() of the same path cannot initialise the module
  // again before this C_Finalize (which would then finalise the new owner's module).
  std::lock_guard registry_lock(g_registry_mu);
  std::lock_guard lock(mu_);
  Finalize();
}

Status Module::Reinitialize(uint64_t seen) {
  std::lock_guard lock(mu_);
  if (generation_.load() != seen) return Status::Ok();  // another pool did it meanwhile
  Finalize();  // its result does not matter: we initialise again either way
  return Initialize();
}

Result<Module::SlotSearch> Module::FindToken(const std::string& label) const {
  SlotSearch out;
  CK_ULONG count = 0;
  if (CK_RV rv = fn_->C_GetSlotList(CK_TRUE, nullptr, &count); rv != CKR_OK)
    return CkrStatus("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    if (CK_RV rv = fn_->C_GetSlotList(CK_TRUE, slots.data(), &count); rv != CKR_OK)
      return CkrStatus("C_GetSlotList", rv);
    slots.resize(count);
  }
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    // An uninitialised token has no label worth listing.
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    std::string found = Trimmed(info.label, sizeof info.label);
    if (found == label && !out.slot) out.slot = slot;
    out.labels.push_back(std::move(found));
  }
  return out;
}

}  // namespace edgetrust::sd::pkcs11
