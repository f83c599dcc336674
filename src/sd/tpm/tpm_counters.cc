#include "sd/tpm/tpm_counters.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "common/files.h"
#include "sd/counter_store.h"
#include "sd/crypto.h"
#include "sd/tpm/tpm_templates.h"

namespace edgetrust::sd::tpm {
namespace {

constexpr uint8_t kRecordFormat = 1;
constexpr size_t kRecordSize = 1 + 4 + 8;
// The object store wants a key type in every record header; counter records use hmac-sha256's
// number and nothing reads it.
constexpr KeyType kRecordType = KeyType::kHmacSha256;

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

Bytes EncodeRecord(uint32_t index, uint64_t initial) {
  Bytes out(kRecordSize);
  out[0] = kRecordFormat;
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<uint8_t>(index >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) out[5 + i] = static_cast<uint8_t>(initial >> (56 - 8 * i));
  return out;
}

uint64_t Be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// The NV index at `index`, or nullopt when none is defined there.
Result<std::optional<NvRef>> OpenNv(Session& s, uint32_t index) {
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc =
      Esys_TR_FromTPMPublic(s.esys(), index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
  if (rc != TSS2_RC_SUCCESS) {
    if (!IsTransportError(rc) && TpmBaseRc(rc) == TPM2_RC_HANDLE) {
      return std::optional<NvRef>();
    }
    ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_NV_ReadPublic"));
  }
  return std::optional<NvRef>(NvRef(s.esys(), tr));
}

Result<EsysPtr<TPM2B_NV_PUBLIC>> ReadNvPublic(Session& s, const NvRef& nv) {
  TPM2B_NV_PUBLIC* pub = nullptr;
  TPM2B_NAME* name = nullptr;
  TSS2_RC rc =
      Esys_NV_ReadPublic(s.esys(), nv.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name);
  EsysPtr<TPM2B_NV_PUBLIC> out(pub);
  EsysPtr<TPM2B_NAME> n(name);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_NV_ReadPublic"));
  return out;
}

bool HasLabel(const TPM2B_NV_PUBLIC& pub, ByteView label) {
  const TPMA_NV type_bits =
      (pub.nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT;
  return type_bits == TPM2_NT_COUNTER && pub.nvPublic.authPolicy.size == label.size() &&
         ConstantTimeEqual(ByteView(pub.nvPublic.authPolicy.buffer, label.size()), label);
}

Status NvIncrement(Session& s, const NvRef& nv) {
  return s.Check(Esys_NV_Increment(s.esys(), ESYS_TR_RH_OWNER, nv.get(), ESYS_TR_PASSWORD,
                                   ESYS_TR_NONE, ESYS_TR_NONE),
                 "TPM2_NV_Increment");
}

Result<uint64_t> NvReadValue(Session& s, const NvRef& nv) {
  TPM2B_MAX_NV_BUFFER* data = nullptr;
  TSS2_RC rc = Esys_NV_Read(s.esys(), ESYS_TR_RH_OWNER, nv.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE, 8, 0, &data);
  EsysPtr<TPM2B_MAX_NV_BUFFER> out(data);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_NV_Read"));
  if (out->size != 8) return Status(ErrorCode::kInternal, "TPM2_NV_Read gave a short counter");
  return Be64(out->buffer);
}

}  // namespace

Result<std::unique_ptr<TpmCounters>> TpmCounters::Open(TpmContext& tpm, const std::string& dir,
                                                       SecretBytes record_key,
                                                       SecretBytes label_key) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kIoError, "cannot create " + dir + ": " + ErrnoText(errno));
  }
  auto store = std::make_unique<ObjectStore>(dir, std::move(record_key));
  return std::unique_ptr<TpmCounters>(new TpmCounters(tpm, std::move(store), std::move(label_key)));
}

std::vector<std::string> TpmCounters::notices() const {
  std::lock_guard lock(mu_);
  return notices_;
}

Result<Bytes> TpmCounters::Label(const KeyId& id) const {
  Bytes msg(id.owner.begin(), id.owner.end());
  msg.push_back(0);
  msg.insert(msg.end(), id.name.begin(), id.name.end());
  return HmacSha256(label_key_, msg);
}

Result<TpmCounters::Mapping> TpmCounters::Lookup(const KeyId& id) {
  std::lock_guard lock(mu_);
  auto key = std::make_pair(id.owner, id.name);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  auto loaded = store_->Load(id.owner, id.name);
  if (!loaded.ok()) {
    if (loaded.status().code() == ErrorCode::kNotFound) {
      return Status(ErrorCode::kNotFound, "no counter named " + id.name);
    }
    return Status(loaded.status().code(), "counter " + id.name + ": " + loaded.status().message());
  }
  const SecretBytes& m = loaded->second;
  if (m.size() != kRecordSize || m.data()[0] != kRecordFormat) {
    return Status(ErrorCode::kTampered, "counter " + id.name + ": record has the wrong format");
  }
  Mapping mapping;
  mapping.index = (uint32_t{m.data()[1]} << 24) | (uint32_t{m.data()[2]} << 16) |
                  (uint32_t{m.data()[3]} << 8) | m.data()[4];
  mapping.initial = Be64(m.data() + 5);
  if (mapping.index < kNvBase || mapping.index >= kNvBase + kNvRange) {
    return Status(ErrorCode::kTampered, "counter " + id.name + ": NV index out of range");
  }
  cache_.emplace(std::move(key), mapping);
  return mapping;
}

Result<uint64_t> TpmCounters::Create(const KeyId& id, uint64_t now) {
  std::lock_guard create_lock(create_mu_);
  if (store_->Exists(id.owner, id.name)) {
    return Status(ErrorCode::kAlreadyExists, "a counter named " + id.name + " exists");
  }
  if (store_->CountOwnedBy(id.owner) >= kMaxCountersPerPrincipal) {
    return Status(
        ErrorCode::kResourceExhausted,
        "a principal may hold at most " + std::to_string(kMaxCountersPerPrincipal) + " counters");
  }
  if (store_->Count() >= kMaxCounters) {
    return Status(ErrorCode::kResourceExhausted, "the secure domain holds the maximum of " +
                                                     std::to_string(kMaxCounters) + " counters");
  }
  ET_ASSIGN_OR_RETURN(Bytes label, Label(id));
  Mapping m;
  bool adopted = false;
  uint64_t raw = 0;
  {
    ET_ASSIGN_OR_RETURN(Session s, tpm_.Acquire());
    const uint32_t start = ((uint32_t{label[0]} << 24) | (uint32_t{label[1]} << 16) |
                            (uint32_t{label[2]} << 8) | label[3]) %
                           kNvRange;
    bool placed = false;
    for (uint32_t probe = 0; probe < kMaxProbes && !placed; ++probe) {
      const uint32_t index = kNvBase + (start + probe) % kNvRange;
      ET_ASSIGN_OR_RETURN(std::optional<NvRef> nv, OpenNv(s, index));
      if (nv) {
        ET_ASSIGN_OR_RETURN(EsysPtr<TPM2B_NV_PUBLIC> pub, ReadNvPublic(s, *nv));
        if (!HasLabel(*pub, label)) continue;  // someone else's index
        // This very counter, whose record is gone: continue from its TPM value.
        if ((pub->nvPublic.attributes & TPMA_NV_WRITTEN) == 0)
          ET_RETURN_IF_ERROR(NvIncrement(s, *nv));
        ET_ASSIGN_OR_RETURN(raw, NvReadValue(s, *nv));
        m = Mapping{index, 0};
        adopted = true;
        placed = true;
        break;
      }
      TPM2B_AUTH auth{};
      TPM2B_NV_PUBLIC pub = CounterNvTemplate(index, label);
      ESYS_TR handle = ESYS_TR_NONE;
      TSS2_RC rc = Esys_NV_DefineSpace(s.esys(), ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &auth, &pub, &handle);
      if (TpmBaseRc(rc) == TPM2_RC_NV_DEFINED) continue;
      ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_NV_DefineSpace"));
      NvRef created(s.esys(), handle);
      // The first increment sets the counter to the highest value any counter of this TPM had.
      ET_RETURN_IF_ERROR(NvIncrement(s, created));
      ET_ASSIGN_OR_RETURN(raw, NvReadValue(s, created));
      m = Mapping{index, raw};
      placed = true;
    }
    if (!placed) {
      return Status(ErrorCode::kResourceExhausted, "no free NV index for the counter in " +
                                                       Hex32(kNvBase) + ".." +
                                                       Hex32(kNvBase + kNvRange - 1));
    }
  }
  ObjectHeader h{id.owner, id.name, kRecordType, now, 0};
  Status st = store_->Create(h, EncodeRecord(m.index, m.initial));
  if (st.code() == ErrorCode::kAlreadyExists) {
    return Status(ErrorCode::kAlreadyExists, "a counter named " + id.name + " exists");
  }
  ET_RETURN_IF_ERROR(st);
  {
    std::lock_guard lock(mu_);
    cache_[std::make_pair(id.owner, id.name)] = m;
    if (adopted) {
      std::string notice = "counters: counter " + id.name + " of " + id.owner +
                           " had lost its record; found again at NV index " + Hex32(m.index) +
                           ", continuing at its TPM value " + std::to_string(raw);
      spdlog::warn("event=notice {}", notice);
      notices_.push_back(std::move(notice));
    }
  }
  return raw - m.initial;
}

Result<uint64_t> TpmCounters::Access(const KeyId& id, const Mapping& m, bool increment) {
  ET_ASSIGN_OR_RETURN(Bytes label, Label(id));
  // A read may run again after a reconnection; an increment may not (its first run may have
  // reached the TPM), so it answers unavailable and the caller decides.
  if (!increment) {
    return tpm_.Run([&](Session& s) { return AccessIn(s, id, m, label, false); });
  }
  ET_ASSIGN_OR_RETURN(Session s, tpm_.Acquire());
  return AccessIn(s, id, m, label, true);
}

Result<uint64_t> TpmCounters::AccessIn(Session& s, const KeyId& id, const Mapping& m,
                                       ByteView label, bool increment) {
  ET_ASSIGN_OR_RETURN(std::optional<NvRef> nv, OpenNv(s, m.index));
  if (!nv) {
    return Status(ErrorCode::kTampered, "counter " + id.name + ": its NV index " + Hex32(m.index) +
                                            " is gone from the TPM (TPM cleared, or the index "
                                            "was undefined)");
  }
  ET_ASSIGN_OR_RETURN(EsysPtr<TPM2B_NV_PUBLIC> pub, ReadNvPublic(s, *nv));
  if (!HasLabel(*pub, label)) {
    return Status(ErrorCode::kTampered, "counter " + id.name + ": NV index " + Hex32(m.index) +
                                            " is not this counter's (it was redefined)");
  }
  if (increment) {
    Status st = NvIncrement(s, *nv);
    if (!st.ok()) return st;
  }
  ET_ASSIGN_OR_RETURN(uint64_t raw, NvReadValue(s, *nv));
  if (raw < m.initial) {
    return Status(ErrorCode::kTampered,
                  "counter " + id.name + ": TPM value below its initial value");
  }
  return raw - m.initial;
}

Result<uint64_t> TpmCounters::Increment(const KeyId& id) {
  ET_ASSIGN_OR_RETURN(Mapping m, Lookup(id));
  return Access(id, m, true);
}

Result<uint64_t> TpmCounters::Read(const KeyId& id) {
  ET_ASSIGN_OR_RETURN(Mapping m, Lookup(id));
  return Access(id, m, false);
}

}  // namespace edgetrust::sd::tpm
