#include "config/config_node.h"

#include <cstdlib>
#include <limits>

namespace ldx {

std::string Diagnostics::location(const YAML::Mark& mark) const {
  if (mark.is_null()) return file_;
  return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void Diagnostics::error(const YAML::Mark& mark, const std::string& msg) {
  errors_.push_back(location(mark) + ": " + msg);
}

std::optional<std::string> interpolate_env(const std::string& in, std::string& missing) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 2;
      continue;
    }
    if (in.compare(i, 2, "${") != 0) {
      out.push_back(in[i]);
      continue;
    }
    size_t end = in.find('}', i + 2);
    if (end == std::string::npos) {
      out.append(in, i, std::string::npos);
      break;
    }
    std::string expr = in.substr(i + 2, end - i - 2);
    std::string name = expr;
    std::optional<std::string> def;
    if (auto p = expr.find(":-"); p != std::string::npos) {
      name = expr.substr(0, p);
      def = expr.substr(p + 2);
    }
    const char* v = std::getenv(name.c_str());
    if (v != nullptr && *v != '\0') {
      out += v;
    } else if (def) {
      out += *def;
    } else {
      missing = name;
      return std::nullopt;
    }
    i = end;
  }
  return out;
}

ConfigNode::ConfigNode(YAML::Node node, std::string path, Diagnostics* diag)
    : node_(std::move(node)), path_(std::move(path)), diag_(diag) {}

void ConfigNode::error(const std::string& msg) const { diag_->error(node_.Mark(), path_ + ": " + msg); }

void ConfigNode::error_at(const std::string& key, const std::string& msg) const {
  YAML::Mark m = node_.Mark();
  if (node_.IsMap()) {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.Scalar() == key) {
        m = it->second.Mark();
        break;
      }
    }
  }
  diag_->error(m, (path_.empty() ? key : path_ + "." + key) + ": " + msg);
}

bool ConfigNode::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

YAML::Node ConfigNode::get(const std::string& key) {
  used_.insert(key);
  if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node n = node_[key];
  return n;
}

std::optional<std::string> ConfigNode::scalar(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) {
    error_at(key, "expected a single value, found a " + std::string(n.IsMap() ? "mapping" : "list"));
    return std::nullopt;
  }
  std::string missing;
  auto v = interpolate_env(n.Scalar(), missing);
  if (!v) {
    error_at(key, "environment variable " + missing + " is not set (use ${" + missing + ":-default} for a default)");
    return std::nullopt;
  }
  return v;
}

std::string ConfigNode::str(const std::string& key, const std::string& def) {
  auto v = scalar(key);
  return v ? *v : def;
}

std::optional<std::string> ConfigNode::opt_str(const std::string& key) { return scalar(key); }

bool ConfigNode::boolean(const std::string& key, bool def) {
  auto v = scalar(key);
  if (!v) return def;
  if (*v == "true" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "no" || *v == "off") return false;
  error_at(key, "expected true or false, found '" + *v + "'");
  return def;
}

int64_t ConfigNode::integer(const std::string& key, int64_t def, int64_t min, int64_t max) {
  auto v = scalar(key);
  if (!v) return def;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0) {
    error_at(key, "expected a whole number, found '" + *v + "'");
    return def;
  }
  if (n < min || n > max) {
    error_at(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", found " + *v);
    return def;
  }
  return n;
}

double ConfigNode::number(const std::string& key, double def, double min, double max) {
  auto v = scalar(key);
  if (!v) return def;
  char* end = nullptr;
  double n = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0') {
    error_at(key, "expected a number, found '" + *v + "'");
    return def;
  }
  if (n < min || n > max) {
    error_at(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return def;
  }
  return n;
}

Millis ConfigNode::duration(const std::string& key, Millis def) {
  auto v = scalar(key);
  if (!v) return def;
  auto d = parse_duration(*v);
  if (!d) {
    error_at(key, "expected a duration like 500ms, 30s, 2m, 1h30m or 7d, found '" + *v + "'");
    return def;
  }
  return *d;
}

std::optional<Millis> ConfigNode::opt_duration(const std::string& key) {
  auto v = scalar(key);
  if (!v || *v == "none") return std::nullopt;
  auto d = parse_duration(*v);
  if (!d) error_at(key, "expected a duration like 30d or 7y, or none, found '" + *v + "'");
  return d;
}

std::optional<int64_t> ConfigNode::timestamp_ms(const std::string& key) {
  auto v = scalar(key);
  if (!v) return std::nullopt;
  auto t = parse_rfc3339_ms(*v);
  if (!t) error_at(key, "expected an RFC 3339 timestamp like 2025-01-01T00:00:00Z, found '" + *v + "'");
  return t;
}

int64_t ConfigNode::bytes(const std::string& key, int64_t def) {
  auto v = scalar(key);
  if (!v) return def;
  size_t i = 0;
  int64_t n = 0;
  while (i < v->size() && std::isdigit(static_cast<unsigned char>((*v)[i]))) {
    n = n * 10 + ((*v)[i] - '0');
    ++i;
  }
  std::string unit = v->substr(i);
  int64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB") mult = 1024;
  else if (unit == "MiB") mult = 1024 * 1024;
  else if (unit == "GiB") mult = 1024LL * 1024 * 1024;
  else if (unit == "KB") mult = 1000;
  else if (unit == "MB") mult = 1000 * 1000;
  else if (unit == "GB") mult = 1000LL * 1000 * 1000;
  if (i == 0 || mult == 0 || n <= 0) {
    error_at(key, "expected a size like 64MiB or 1048576, found '" + *v + "'");
    return def;
  }
  return n * mult;
}

std::vector<std::string> ConfigNode::string_list(const std::string& key, std::vector<std::string> def) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  if (!n.IsSequence()) {
    error_at(key, "expected a list like [\"a\", \"b\"]");
    return def;
  }
  std::vector<std::string> out;
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      diag_->error(item.Mark(), path_ + "." + key + ": expected a list of strings");
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

ConfigNode ConfigNode::child(const std::string& key) {
  YAML::Node n = get(key);
  if (n.IsDefined() && !n.IsNull() && !n.IsMap()) {
    error_at(key, "expected a mapping of keys to values");
    return ConfigNode(YAML::Node(YAML::NodeType::Undefined), path_ + "." + key, diag_);
  }
  return ConfigNode(n, path_.empty() ? key : path_ + "." + key, diag_);
}

std::vector<ConfigNode> ConfigNode::list(const std::string& key) {
  YAML::Node n = get(key);
  std::vector<ConfigNode> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    error_at(key, "expected a list");
    return out;
  }
  size_t i = 0;
  for (const auto& item : n) {
    std::string p = (path_.empty() ? key : path_ + "." + key) + "[" + std::to_string(i++) + "]";
    if (!item.IsMap()) {
      diag_->error(item.Mark(), p + ": expected a mapping");
      continue;
    }
    out.emplace_back(item, p, diag_);
  }
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() {
  std::vector<std::pair<std::string, ConfigNode>> out;
  if (!node_.IsMap()) return out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    std::string k = it->first.Scalar();
    used_.insert(k);
    if (!it->second.IsMap() && !it->second.IsNull()) {
      diag_->error(it->second.Mark(), path_ + "." + k + ": expected a mapping");
      continue;
    }
    out.emplace_back(k, ConfigNode(it->second, path_.empty() ? k : path_ + "." + k, diag_));
  }
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (!node_.IsMap()) return out;
  for (auto it = node_.begin(); it != node_.end(); ++it) out.push_back(it->first.Scalar());
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::map_entries(const std::string& key) {
  return child(key).entries();
}

void ConfigNode::reject_unknown_keys() {
  if (!node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string k = it->first.Scalar();
    if (!used_.count(k)) {
      diag_->error(it->first.Mark(), "unknown key '" + (path_.empty() ? k : path_ + "." + k) + "'");
    }
  }
}

}  // namespace ldx
