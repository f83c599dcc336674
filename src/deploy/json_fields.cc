// Typed, path-naming access to JSON object members (json_fields.h).
#include "deploy/json_fields.h"

#include <string>

#include "attest/json_util.h"

namespace edgetrust::deploy {

using nlohmann::json;

Status PathError(ErrorCode code, const std::string& path, const std::string& message) {
  return Status(code, "manifest: " + (path.empty() ? message : path + ": " + message));
}

std::string TypeName(const json& value) { return attest::JsonTypeName(value); }

Status CheckString(const json& value, const std::string& path, size_t max) {
  if (!value.is_string()) {
    return PathError(ErrorCode::kMalformed, path, "must be a string, not " + TypeName(value));
  }
  const auto& s = value.get_ref<const std::string&>();
  if (s.size() > max) {
    return PathError(ErrorCode::kTooLarge, path,
                     "is longer than " + std::to_string(max) + " bytes");
  }
  if (s.find('\0') != std::string::npos) {
    return PathError(ErrorCode::kInvalidArgument, path, "must not contain a NUL character");
  }
  return Status::Ok();
}

Result<Fields> Fields::Open(const json& object, std::string path,
                            std::initializer_list<std::string_view> known) {
  if (!object.is_object()) {
    return PathError(ErrorCode::kMalformed, path, "must be an object, not " + TypeName(object));
  }
  for (const auto& item : object.items()) {
    bool found = false;
    for (auto k : known) found = found || item.key() == k;
    if (!found) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      const std::string where = path.empty() ? item.key() : path + "." + item.key();
      return PathError(ErrorCode::kMalformed, where, "unknown key (known keys: " + list + ")");
    }
  }
  return Fields(object, std::move(path));
}

std::string Fields::At(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const json* Fields::Get(std::string_view key) const {
  auto it = object_->find(key);
  return it == object_->end() ? nullptr : &*it;
}

Status Fields::Require(std::string_view key) const {
  if (Get(key) == nullptr) return PathError(ErrorCode::kMalformed, At(key), "is missing");
  return Status::Ok();
}

Status Fields::String(std::string_view key, std::string& out, bool required, size_t max) const {
  const json* v = Get(key);
  if (v == nullptr) return required ? Require(key) : Status::Ok();
  ET_RETURN_IF_ERROR(CheckString(*v, At(key), max));
  out = v->get<std::string>();
  return Status::Ok();
}

Status Fields::Bool(std::string_view key, bool& out) const {
  const json* v = Get(key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_boolean()) {
    return PathError(ErrorCode::kMalformed, At(key), "must be true or false, not " + TypeName(*v));
  }
  out = v->get<bool>();
  return Status::Ok();
}

Status Fields::Uint64(std::string_view key, uint64_t& out, bool required, uint64_t min,
                      uint64_t max) const {
  const json* v = Get(key);
  if (v == nullptr) return required ? Require(key) : Status::Ok();
  if (!v->is_number_unsigned()) {
    return PathError(ErrorCode::kMalformed, At(key),
                     "must be an unsigned integer, not " + TypeName(*v));
  }
  const auto n = v->get<uint64_t>();
  if (n < min || n > max) {
    return PathError(ErrorCode::kInvalidArgument, At(key),
                     "is " + std::to_string(n) + ", must be " + std::to_string(min) + " to " +
                         std::to_string(max));
  }
  out = n;
  return Status::Ok();
}

Status Fields::Uint32(std::string_view key, uint32_t& out, uint64_t min, uint64_t max) const {
  uint64_t n = out;
  ET_RETURN_IF_ERROR(Uint64(key, n, false, min, max));
  out = static_cast<uint32_t>(n);
  return Status::Ok();
}

Status Fields::StringArray(std::string_view key, std::vector<std::string>& out, bool required,
                           size_t max_items, size_t max_len) const {
  const json* v = Get(key);
  if (v == nullptr) return required ? Require(key) : Status::Ok();
  if (!v->is_array()) {
    return PathError(ErrorCode::kMalformed, At(key),
                     "must be an array of strings, not " + TypeName(*v));
  }
  if (v->size() > max_items) {
    return PathError(ErrorCode::kTooLarge, At(key),
                     "has more than " + std::to_string(max_items) + " entries");
  }
  std::vector<std::string> items;
  for (size_t i = 0; i < v->size(); ++i) {
    ET_RETURN_IF_ERROR(CheckString((*v)[i], At(key) + "[" + std::to_string(i) + "]", max_len));
    items.push_back((*v)[i].get<std::string>());
  }
  out = std::move(items);
  return Status::Ok();
}

}  // namespace edgetrust::deploy
