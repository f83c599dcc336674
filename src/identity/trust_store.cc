#include "identity/trust_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/files.h"
#include "common/hex.h"
#include "identity/certificate.h"
#include "identity/subject.h"

namespace edgetrust::identity {
namespace {

constexpr std::string_view kMacLabel = "edgetrust trust bundle v1";
constexpr mode_t kPublicMode = 0644;
constexpr size_t kMaxMacFile = 1024;

Status Tampered(const std::string& what) { return Status(ErrorCode::kTampered, what); }

// Reads a file; nullopt if it does not exist.
Result<std::optional<std::string>> ReadOptional(const std::string& path, size_t max) {
  auto data = ReadFile(path, max);
  if (!data.ok()) {
    if (data.status().code() == ErrorCode::kNotFound) return std::optional<std::string>();
    return data.status();
  }
  return std::optional<std::string>(std::string(data->begin(), data->end()));
}

// The .mac file: one or two lines of 64 hex digits.
Result<std::vector<Bytes>> ParseMacFile(const std::string& text, const std::string& path) {
  std::vector<Bytes> macs;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) return Tampered(path + " is damaged (no final newline)");
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    auto mac = HexDecode(line);
    if (line.size() != 64 || !mac.ok()) return Tampered(path + " is damaged (not an HMAC)");
    macs.push_back(std::move(mac).value());
  }
  if (macs.empty() || macs.size() > 2) return Tampered(path + " is damaged");
  return macs;
}

TrustEntry EntryOf(const X509* cert) {
  TrustEntry e;
  e.subject = DisplayName(X509_get_subject_name(cert));
  e.fingerprint = Fingerprint(cert);
  e.not_after = NotAfter(cert);
  e.self_signed = IsSelfSigned(cert);
  return e;
}

}  // namespace

std::string_view TrustPurposeName(TrustPurpose purpose) {
  switch (purpose) {
    case TrustPurpose::kCloud:
      return "cloud";
    case TrustPurpose::kUpdate:
      return "update";
    case TrustPurpose::kDeployment:
      return "deployment";
    case TrustPurpose::kLeaf:
      return "leaf";
  }
  return "?";
}

std::vector<TrustPurpose> AllTrustPurposes() {
  return {TrustPurpose::kCloud, TrustPurpose::kUpdate, TrustPurpose::kDeployment,
          TrustPurpose::kLeaf};
}

Result<TrustPurpose> ParseTrustPurpose(std::string_view name) {
  for (TrustPurpose p : AllTrustPurposes()) {
    if (TrustPurposeName(p) == name) return p;
  }
  return Status(ErrorCode::kInvalidArgument, "unknown trust purpose \"" +
                                                 std::string(name.substr(0, 64)) +
                                                 "\" (cloud, update, deployment, leaf)");
}

std::string TrustStore::BundlePath(TrustPurpose purpose) const {
  return store_.TrustDir() + "/" + std::string(TrustPurposeName(purpose)) + ".pem";
}

std::string TrustStore::MacPath(TrustPurpose purpose) const { return BundlePath(purpose) + ".mac"; }

Bytes TrustStore::MacInput(TrustPurpose purpose, std::string_view bundle) const {
  std::string input(kMacLabel);
  input += '\0';
  input += TrustPurposeName(purpose);
  input += '\0';
  input += bundle;
  return Bytes(input.begin(), input.end());
}

Status TrustStore::EnsureMacKey() {
  ET_ASSIGN_OR_RETURN(std::optional<KeyType> type, keys_.Find(kTrustMacKey));
  if (!type) return keys_.Create(kTrustMacKey, KeyType::kHmacSha256);
  if (*type != KeyType::kHmacSha256) {
    return Status(ErrorCode::kFailedPrecondition,
                  std::string("key ") + kTrustMacKey + " exists but is not an hmac-sha256 key");
  }
  return Status::Ok();
}

Result<std::vector<X509Ptr>> TrustStore::Load(TrustPurpose purpose) {
  const std::string bundle_path = BundlePath(purpose);
  const std::string mac_path = MacPath(purpose);
  ET_ASSIGN_OR_RETURN(auto bundle, ReadOptional(bundle_path, kMaxCertificateFileSize));
  ET_ASSIGN_OR_RETURN(auto mac_text, ReadOptional(mac_path, kMaxMacFile));
  if (!mac_text) {
    if (!bundle) return std::vector<X509Ptr>{};
    return Tampered("trust bundle " + bundle_path + " has no MAC file (" + mac_path +
                    "): it was not written by edgetrust");
  }
  ET_ASSIGN_OR_RETURN(std::vector<Bytes> macs, ParseMacFile(*mac_text, mac_path));
  // A missing bundle with a MAC is checked as an empty one: deleting a bundle is a change too.
  const std::string content = bundle.value_or(std::string());
  const Bytes input = MacInput(purpose, content);
  bool ok = false;
  for (const auto& mac : macs) {
    auto verified = keys_.MacVerify(kTrustMacKey, input, mac);
    if (!verified.ok()) {
      if (verified.status().code() == ErrorCode::kNotFound) {
        return Tampered(std::string("the MAC key ") + kTrustMacKey + " is gone, so trust bundle " +
                        bundle_path + " cannot be checked");
      }
      return verified.status();
    }
    ok = ok || *verified;
  }
  if (!ok) {
    return Tampered("trust bundle " + bundle_path +
                    (bundle ? " does not match its MAC: it was modified outside edgetrust"
                            : " was deleted outside edgetrust"));
  }
  if (content.empty()) return std::vector<X509Ptr>{};
  return ParseCertificates(content, bundle_path);
}

Result<std::vector<TrustEntry>> TrustStore::List(TrustPurpose purpose) {
  ET_ASSIGN_OR_RETURN(auto certs, Load(purpose));
  std::vector<TrustEntry> out;
  for (const auto& c : certs) out.push_back(EntryOf(c.get()));
  return out;
}

Status TrustStore::Write(TrustPurpose purpose, const std::string& old_bundle,
                         const std::vector<X509Ptr>& certs) {
  const std::string dir = store_.TrustDir();
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kIoError, "mkdir " + dir + ": " + ErrnoText(errno));
  }
  const std::string bundle = ToPem(certs);
  ET_ASSIGN_OR_RETURN(Bytes old_mac, keys_.Mac(kTrustMacKey, MacInput(purpose, old_bundle)));
  ET_ASSIGN_OR_RETURN(Bytes new_mac, keys_.Mac(kTrustMacKey, MacInput(purpose, bundle)));
  const std::string both = HexEncode(old_mac) + "\n" + HexEncode(new_mac) + "\n";
  ET_RETURN_IF_ERROR(
      WriteFileAtomic(MacPath(purpose), AsBytes(both), kPublicMode, WriteMode::kReplace));
  if (certs.empty()) {
    Status st = RemoveFileDurable(BundlePath(purpose));
    if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
    return RemoveFileDurable(MacPath(purpose));
  }
  ET_RETURN_IF_ERROR(
      WriteFileAtomic(BundlePath(purpose), AsBytes(bundle), kPublicMode, WriteMode::kReplace));
  const std::string only_new = HexEncode(new_mac) + "\n";
  return WriteFileAtomic(MacPath(purpose), AsBytes(only_new), kPublicMode, WriteMode::kReplace);
}

Result<TrustStore::AddResult> TrustStore::Add(TrustPurpose purpose, std::string_view pem,
                                              int64_t now) {
  ET_ASSIGN_OR_RETURN(auto incoming, ParseCertificates(pem, "certificate file"));
  for (size_t i = 0; i < incoming.size(); ++i) {
    X509* c = incoming[i].get();
    const std::string which =
        "certificate " + std::to_string(i + 1) + " (" + DisplayName(X509_get_subject_name(c)) + ")";
    if (!IsCa(c) && !IsSelfSigned(c)) {
      return Status(ErrorCode::kInvalidArgument,
                    which +
                        " is neither a CA certificate (basicConstraints CA:TRUE) nor a "
                        "self-signed root; trust bundles hold CAs only");
    }
    if (NotAfter(c) <= now) return Status(ErrorCode::kInvalidArgument, which + " has expired");
  }
  ET_ASSIGN_OR_RETURN(FolderLock lock, store_.Lock());
  ET_RETURN_IF_ERROR(EnsureMacKey());
  ET_ASSIGN_OR_RETURN(auto certs, Load(purpose));
  ET_ASSIGN_OR_RETURN(auto old_text, ReadOptional(BundlePath(purpose), kMaxCertificateFileSize));
  AddResult result;
  for (auto& c : incoming) {
    TrustEntry e = EntryOf(c.get());
    bool present = false;
    for (const auto& have : certs) present = present || Fingerprint(have.get()) == e.fingerprint;
    if (present) {
      result.already_present.push_back(std::move(e));
      continue;
    }
    certs.push_back(std::move(c));
    result.added.push_back(std::move(e));
  }
  if (!result.added.empty()) ET_RETURN_IF_ERROR(Write(purpose, old_text.value_or(""), certs));
  return result;
}

Result<TrustEntry> TrustStore::Remove(TrustPurpose purpose, std::string_view fingerprint) {
  const std::string fp = NormalizeFingerprint(fingerprint);
  if (fp.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "\"" + std::string(fingerprint.substr(0, 100)) +
                      "\" is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
  }
  ET_ASSIGN_OR_RETURN(FolderLock lock, store_.Lock());
  ET_ASSIGN_OR_RETURN(auto certs, Load(purpose));
  ET_ASSIGN_OR_RETURN(auto old_text, ReadOptional(BundlePath(purpose), kMaxCertificateFileSize));
  for (auto it = certs.begin(); it != certs.end(); ++it) {
    if (Fingerprint(it->get()) != fp) continue;
    TrustEntry removed = EntryOf(it->get());
    certs.erase(it);
    ET_RETURN_IF_ERROR(Write(purpose, old_text.value_or(""), certs));
    return removed;
  }
  return Status(ErrorCode::kNotFound, "the " + std::string(TrustPurposeName(purpose)) +
                                          " bundle holds no certificate " + fp);
}

Status TrustStore::RemoveAll(TrustPurpose purpose) {
  ET_ASSIGN_OR_RETURN(FolderLock lock, store_.Lock());
  // The MAC last: a crash in between leaves a MAC without a bundle, reported as tampered and
  // cleared by running this again.
  Status st = RemoveFileDurable(BundlePath(purpose));
  if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
  st = RemoveFileDurable(MacPath(purpose));
  if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
  return Status::Ok();
}

}  // namespace edgetrust::identity
