#include "sd/object_store.h"

#include <dirent.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "common/files.h"
#include "common/hex.h"
#include "protocol/wire.h"
#include "sd/crypto.h"

namespace edgetrust::sd {
namespace {

constexpr std::string_view kMagic = "ETKO";
constexpr uint8_t kFormat = 1;
constexpr std::string_view kSuffix = ".key";

Status Tampered(const std::string& what) { return Status(ErrorCode::kTampered, what); }

}  // namespace

std::string RecordFileName(std::string_view owner, std::string_view name) {
  Bytes in;
  static constexpr std::string_view kDomain = "edgetrust-sd key file v1";
  in.insert(in.end(), kDomain.begin(), kDomain.end());
  in.push_back(0);
  in.insert(in.end(), owner.begin(), owner.end());
  in.push_back(0);
  in.insert(in.end(), name.begin(), name.end());
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(in.data(), in.size(), digest);
  return HexEncode(ByteView(digest, 20)) + std::string(kSuffix);
}

Result<ParsedRecord> ParseRecord(ByteView f) {
  size_t pos = 0;
  auto need = [&](size_t n) { return f.size() - pos >= n; };
  if (!need(kMagic.size() + 2 + 8 + 2) ||
      std::memcmp(f.data(), kMagic.data(), kMagic.size()) != 0) {
    return Tampered("not a key object (bad magic)");
  }
  pos = kMagic.size();
  if (f[pos] != kFormat) return Tampered("unknown key object format " + std::to_string(f[pos]));
  ++pos;
  ParsedRecord r;
  auto type = static_cast<KeyType>(f[pos]);
  if (KeyTypeName(type) == "unknown") return Tampered("unknown key type in key object");
  r.header.type = type;
  ++pos;
  r.header.created = protocol::GetU64(f.data() + pos);
  pos += 8;
  for (std::string* s : {&r.header.owner, &r.header.name}) {
    if (!need(2)) return Tampered("truncated key object");
    uint16_t len = protocol::GetU16(f.data() + pos);
    pos += 2;
    if (len == 0 || !need(len)) return Tampered("truncated key object");
    s->assign(reinterpret_cast<const char*>(f.data() + pos), len);
    pos += len;
  }
  if (!need(4)) return Tampered("truncated key object");
  r.header.flags = protocol::GetU32(f.data() + pos);
  pos += 4;
  r.associated_data = f.subspan(0, pos);
  r.sealed = f.subspan(pos);
  if (r.sealed.size() < kAeadNonceSize + kAeadTagSize + 1) return Tampered("truncated key object");
  return r;
}

Result<Bytes> SealRecord(const ObjectHeader& h, ByteView material, const SecretBytes& storage_key) {
  if (h.owner.empty() || h.owner.size() > 0xFFFF || h.name.empty() || h.name.size() > 0xFFFF) {
    return Status(ErrorCode::kInternal, "bad key object header");
  }
  Bytes out(kMagic.begin(), kMagic.end());
  out.push_back(kFormat);
  out.push_back(static_cast<uint8_t>(h.type));
  protocol::PutU64(out, h.created);
  protocol::PutU16(out, static_cast<uint16_t>(h.owner.size()));
  out.insert(out.end(), h.owner.begin(), h.owner.end());
  protocol::PutU16(out, static_cast<uint16_t>(h.name.size()));
  out.insert(out.end(), h.name.begin(), h.name.end());
  protocol::PutU32(out, h.flags);
  ET_ASSIGN_OR_RETURN(Bytes sealed, AeadSeal(storage_key, material, out));
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<SecretBytes> OpenRecord(const ParsedRecord& r, const SecretBytes& storage_key) {
  auto opened = AeadOpen(storage_key, r.sealed, r.associated_data);
  if (!opened.ok()) {
    if (opened.status().code() == ErrorCode::kVerifyFailed ||
        opened.status().code() == ErrorCode::kInvalidArgument) {
      return Tampered(
          "key object failed authentication (modified, or not written by this secure domain)");
    }
    return opened.status();
  }
  return opened;
}

ObjectStore::ObjectStore(std::string dir, SecretBytes storage_key)
    : dir_(std::move(dir)), storage_key_(std::move(storage_key)) {}

std::string ObjectStore::PathOf(std::string_view owner, std::string_view name) const {
  return dir_ + "/" + RecordFileName(owner, name);
}

bool ObjectStore::Exists(std::string_view owner, std::string_view name) const {
  return ::access(PathOf(owner, name).c_str(), F_OK) == 0;
}

Status ObjectStore::Create(const ObjectHeader& header, ByteView material) {
  ET_ASSIGN_OR_RETURN(Bytes record, SealRecord(header, material, storage_key_));
  Status st =
      WriteFileAtomic(PathOf(header.owner, header.name), record, 0600, WriteMode::kNoReplace);
  if (st.code() == ErrorCode::kAlreadyExists) {
    return Status(ErrorCode::kAlreadyExists, "a key named " + header.name + " exists");
  }
  return st;
}

Result<std::pair<ObjectHeader, SecretBytes>> ObjectStore::Load(std::string_view owner,
                                                               std::string_view name) const {
  auto file = ReadFile(PathOf(owner, name), kMaxRecordSize);
  if (!file.ok()) {
    if (file.status().code() == ErrorCode::kNotFound) {
      return Status(ErrorCode::kNotFound, "no key named " + std::string(name));
    }
    if (file.status().code() == ErrorCode::kTooLarge)
      return Tampered("key object for " + std::string(name) + " is oversized");
    return file.status();
  }
  auto parsed = ParseRecord(*file);
  if (!parsed.ok()) return Tampered("key " + std::string(name) + ": " + parsed.status().message());
  auto material = OpenRecord(*parsed, storage_key_);
  if (!material.ok())
    return Status(material.status().code(),
                  "key " + std::string(name) + ": " + material.status().message());
  if (parsed->header.owner != owner || parsed->header.name != name) {
    // The other key's owner and name are not repeated: they are unverified and may not be the
    // caller's to know.
    return Tampered("key " + std::string(name) +
                    ": its file holds another key (swapped or renamed)");
  }
  if (parsed->header.flags != 0)
    return Tampered("key " + std::string(name) + ": unknown attribute flags");
  return std::make_pair(parsed->header, std::move(material).value());
}

Status ObjectStore::Remove(std::string_view owner, std::string_view name) {
  Status st = RemoveFileDurable(PathOf(owner, name));
  if (st.code() == ErrorCode::kNotFound)
    return Status(ErrorCode::kNotFound, "no key named " + std::string(name));
  return st;
}

namespace {
struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;
}  // namespace

Result<std::vector<ObjectStore::ScanEntry>> ObjectStore::Scan() const {
  DirPtr dir(::opendir(dir_.c_str()));
  if (!dir) return Status(ErrorCode::kIoError, dir_ + ": " + ErrnoText(errno));
  std::vector<ScanEntry> out;
  while (dirent* de = ::readdir(dir.get())) {
    std::string fname = de->d_name;
    if (fname == "." || fname == ".." || fname.starts_with(kTempPrefix)) continue;
    ScanEntry e;
    e.file = fname;
    auto file = ReadFile(dir_ + "/" + fname, kMaxRecordSize);
    if (!file.ok()) {
      e.problem = file.status().message();
      out.push_back(std::move(e));
      continue;
    }
    auto parsed = ParseRecord(*file);
    if (!parsed.ok()) {
      e.problem = parsed.status().message();
      out.push_back(std::move(e));
      continue;
    }
    e.header = parsed->header;
    auto material = OpenRecord(*parsed, storage_key_);
    if (!material.ok()) {
      e.problem = material.status().message();
    } else if (RecordFileName(parsed->header.owner, parsed->header.name) != fname) {
      e.problem = "stored under another key's file name (renamed or swapped)";
    } else if (parsed->header.flags != 0) {
      e.problem = "unknown attribute flags";
    } else {
      e.authentic = true;
    }
    out.push_back(std::move(e));
  }
  return out;
}

size_t ObjectStore::Count() const {
  DirPtr dir(::opendir(dir_.c_str()));
  if (!dir) return 0;
  size_t n = 0;
  while (dirent* de = ::readdir(dir.get())) {
    std::string_view f = de->d_name;
    if (f.ends_with(kSuffix) && !f.starts_with(kTempPrefix)) ++n;
  }
  return n;
}

size_t ObjectStore::CountOwnedBy(std::string_view owner) const {
  DirPtr dir(::opendir(dir_.c_str()));
  if (!dir) return 0;
  size_t n = 0;
  while (dirent* de = ::readdir(dir.get())) {
    std::string f = de->d_name;
    if (!std::string_view(f).ends_with(kSuffix) || f.starts_with(kTempPrefix)) continue;
    auto file = ReadFile(dir_ + "/" + f, kMaxRecordSize);
    if (!file.ok()) continue;
    auto parsed = ParseRecord(*file);
    if (parsed.ok() && parsed->header.owner == owner &&
        RecordFileName(owner, parsed->header.name) == f)
      ++n;
  }
  return n;
}

}  // namespace edgetrust::sd
