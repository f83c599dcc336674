#include "docker/json_fields.h"

#include <utility>

namespace edgetrust::docker {

Status Malformed(std::string_view path, std::string_view what) {
  std::string text = "docker answer: ";
  text.append(path.empty() ? std::string_view("(top level)") : path);
  text += ": ";
  text.append(what);
  return Status(ErrorCode::kMalformed, std::move(text));
}

Result<Json> ParseJsonText(std::string_view text, std::string_view what, size_t max_size) {
  if (text.size() > max_size) {
    return Status(ErrorCode::kTooLarge, "docker answer: " + std::string(what) + " of " +
                                            std::to_string(text.size()) + " bytes exceeds " +
                                            std::to_string(max_size));
  }
  // nlohmann's lexer ends the input at a NUL byte; no JSON text holds one.
  if (text.find('\0') != std::string_view::npos) {
    return Malformed(what, "NUL byte in the answer");
  }
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Malformed(what, "not a JSON document");
  return value;
}

Status Fields::CheckObject(const Json& value, std::string_view path) {
  if (!value.is_object()) return Malformed(path, "expected an object");
  return Status::Ok();
}

std::string Fields::PathOf(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  std::string p = path_;
  p += '.';
  p.append(key);
  return p;
}

const Json* Fields::Get(std::string_view key) const {
  auto it = obj_.find(std::string(key));
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

namespace {

Status Missing(const Fields& f, std::string_view key) {
  return Malformed(f.PathOf(key), "missing");
}

}  // namespace

Status Fields::String(std::string_view key, Need need, std::string* out) const {
  out->clear();
  const Json* v = Get(key);
  if (v == nullptr) return need == Need::kRequired ? Missing(*this, key) : Status::Ok();
  if (!v->is_string()) return Malformed(PathOf(key), "expected a string");
  *out = v->get_ref<const std::string&>();
  return Status::Ok();
}

Status Fields::Bool(std::string_view key, Need need, bool* out) const {
  *out = false;
  const Json* v = Get(key);
  if (v == nullptr) return need == Need::kRequired ? Missing(*this, key) : Status::Ok();
  if (!v->is_boolean()) return Malformed(PathOf(key), "expected a boolean");
  *out = v->get<bool>();
  return Status::Ok();
}

Status Fields::Int(std::string_view key, Need need, int64_t* out) const {
  *out = 0;
  const Json* v = Get(key);
  if (v == nullptr) return need == Need::kRequired ? Missing(*this, key) : Status::Ok();
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return Malformed(PathOf(key), "integer out of range");
    *out = static_cast<int64_t>(u);
    return Status::Ok();
  }
  if (!v->is_number_integer()) return Malformed(PathOf(key), "expected an integer");
  *out = v->get<int64_t>();
  return Status::Ok();
}

Status Fields::StringList(std::string_view key, Need need, std::vector<std::string>* out) const {
  out->clear();
  const Json* v = Get(key);
  if (v == nullptr) return need == Need::kRequired ? Missing(*this, key) : Status::Ok();
  if (!v->is_array()) return Malformed(PathOf(key), "expected an array");
  out->reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& e = (*v)[i];
    if (!e.is_string()) {
      return Malformed(PathOf(key) + "[" + std::to_string(i) + "]", "expected a string");
    }
    out->push_back(e.get_ref<const std::string&>());
  }
  return Status::Ok();
}

Status Fields::StringMap(std::string_view key, Need need,
                         std::map<std::string, std::string>* out) const {
  out->clear();
  const Json* v = Get(key);
  if (v == nullptr) return need == Need::kRequired ? Missing(*this, key) : Status::Ok();
  if (!v->is_object()) return Malformed(PathOf(key), "expected an object");
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string()) {
      return Malformed(PathOf(key) + "." + it.key(), "expected a string");
    }
    (*out)[it.key()] = it.value().get_ref<const std::string&>();
  }
  return Status::Ok();
}

Status Fields::Object(std::string_view key, Need need, const Json** out) const {
  *out = nullptr;
  const Json* v = Get(key);
  if (v == nullptr) return need == Need::kRequired ? Missing(*this, key) : Status::Ok();
  if (!v->is_object()) return Malformed(PathOf(key), "expected an object");
  *out = v;
  return Status::Ok();
}

Status Fields::Array(std::string_view key, Need need, const Json** out) const {
  *out = nullptr;
  const Json* v = Get(key);
  if (v == nullptr) return need == Need::kRequired ? Missing(*this, key) : Status::Ok();
  if (!v->is_array()) return Malformed(PathOf(key), "expected an array");
  *out = v;
  return Status::Ok();
}

}  // namespace edgetrust::docker
