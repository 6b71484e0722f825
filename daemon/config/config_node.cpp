#include "config/config_node.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

namespace ldx {

std::string Diagnostics::location(const YAML::Mark& mark) const {
  if (mark.is_null()) return file_;
  return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void Diagnostics::error(const YAML::Mark& mark, const std::string& msg) {
  errors_.push_back(location(mark) + ": " + msg);
}

namespace {

bool is_var_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// The reference as written, for messages; cut short so a long value is not repeated whole.
std::string shown(std::string_view ref) {
  constexpr size_t kMax = 40;
  if (ref.size() <= kMax) return std::string(ref);
  return std::string(ref.substr(0, kMax)) + "...";
}

}  // namespace

std::optional<std::string> interpolate_env(const std::string& in, std::string& error) {
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
      error = "malformed reference '" + shown(std::string_view(in).substr(i)) +
              "': no closing '}' (write ${NAME} or ${NAME:-default}, or $${ for a literal ${)";
      return std::nullopt;
    }
    const std::string ref = in.substr(i, end + 1 - i);
    std::string expr = in.substr(i + 2, end - i - 2);
    std::string name = expr;
    std::optional<std::string> def;
    if (auto p = expr.find(":-"); p != std::string::npos) {
      name = expr.substr(0, p);
      def = expr.substr(p + 2);
    }
    if (!is_var_name(name)) {
      error = "malformed reference '" + shown(ref) + "': " +
              (name.empty() ? std::string("no variable name")
                            : "'" + shown(name) + "' is not a variable name (letters, digits and _)") +
              " (write ${NAME} or ${NAME:-default}, or $${ for a literal ${)";
      return std::nullopt;
    }
    if (def && def->find("${") != std::string::npos) {
      error = "malformed reference starting '" + shown(ref) + "': a default cannot hold another ${...} reference";
      return std::nullopt;
    }
    const char* v = std::getenv(name.c_str());
    if (v != nullptr && *v != '\0') {
      out += v;
    } else if (def) {
      out += *def;
    } else {
      error = "environment variable " + name + " is not set (use ${" + name + ":-default} for a default)";
      return std::nullopt;
    }
    i = end;
  }
  return out;
}

std::optional<int64_t> parse_size(std::string_view text, bool* too_large) {
  if (too_large != nullptr) *too_large = false;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  size_t i = 0;
  int64_t n = 0;
  bool over = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const int digit = text[i] - '0';
    if (over || n > (kMax - digit) / 10) over = true;
    else n = n * 10 + digit;
    ++i;
  }
  const std::string_view unit = text.substr(i);
  int64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB") mult = 1024;
  else if (unit == "MiB") mult = 1024 * 1024;
  else if (unit == "GiB") mult = 1024LL * 1024 * 1024;
  else if (unit == "KB") mult = 1000;
  else if (unit == "MB") mult = 1000 * 1000;
  else if (unit == "GB") mult = 1000LL * 1000 * 1000;
  if (i == 0 || mult == 0) return std::nullopt;
  if (over || n > kMax / mult) {
    if (too_large != nullptr) *too_large = true;
    return std::nullopt;
  }
  return n * mult;
}

std::string format_size(int64_t bytes) {
  if (bytes > 0) {
    if (bytes % (1LL << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes % (1LL << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes % (1LL << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
  }
  return std::to_string(bytes);
}

namespace {

// Walks the parser's events (no node tree, aliases not expanded) with one frame per
// open mapping or sequence, remembering each mapping's scalar keys.
class DuplicateKeyFinder : public YAML::EventHandler {
 public:
  explicit DuplicateKeyFinder(Diagnostics& diag) : diag_(diag) {}
  void OnDocumentStart(const YAML::Mark& /*mark*/) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { (void)node(mark, nullptr); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { (void)node(mark, nullptr); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& value) override {
    (void)node(mark, &value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                       YAML::EmitterStyle::value /*style*/) override {
    frames_.emplace_back(false, node(mark, nullptr));
  }
  void OnSequenceEnd() override {
    if (!frames_.empty()) frames_.pop_back();
  }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    frames_.emplace_back(true, node(mark, nullptr));
  }
  void OnMapEnd() override {
    if (!frames_.empty()) frames_.pop_back();
  }

 private:
  struct Frame {
    Frame(bool is_map, std::string at) : map(is_map), path(std::move(at)) {}
    bool map;
    std::string path;
    bool want_key = true;
    size_t index = 0;
    std::string key;
    std::map<std::string, YAML::Mark> keys;
  };
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  // Every node, in document order: a mapping's key, a mapping's value, or a sequence's
  // item. Returns the node's path (as the loader names it: a.b, a[0].c).
  std::string node(const YAML::Mark& mark, const std::string* scalar) {
    if (frames_.empty()) return "";
    Frame& f = frames_.back();
    if (!f.map) return f.path + "[" + std::to_string(f.index++) + "]";
    if (!f.want_key) {
      f.want_key = true;
      return join(f.path, f.key);
    }
    f.want_key = false;
    f.key = scalar != nullptr ? *scalar : "?";
    if (scalar != nullptr) {
      auto [it, inserted] = f.keys.emplace(*scalar, mark);
      if (!inserted) {
        diag_.error(mark, "duplicate key '" + join(f.path, *scalar) + "': already set at line " +
                              std::to_string(it->second.line + 1) + ", column " +
                              std::to_string(it->second.column + 1) + " (each key may appear once)");
      }
    }
    return join(f.path, f.key);
  }
  Diagnostics& diag_;
  std::vector<Frame> frames_;
};

}  // namespace

void check_duplicate_keys(const std::string& yaml, Diagnostics& diag) {
  std::istringstream in(yaml);
  DuplicateKeyFinder finder(diag);
  try {
    YAML::Parser parser(in);
    parser.HandleNextDocument(finder);
  } catch (const YAML::Exception& e) {
    diag.error(e.mark, "YAML syntax error: " + e.msg);
  }
}

ConfigNode::ConfigNode(YAML::Node node, std::string path, Diagnostics* diag)
    : node_(std::move(node)), path_(std::move(path)), diag_(diag) {}

void ConfigNode::error(const std::string& msg) const { diag_->error(node_.Mark(), path_ + ": " + msg); }

YAML::Mark ConfigNode::mark_of(const std::string& key) const {
  YAML::Mark m = node_.Mark();
  if (node_.IsMap()) {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.Scalar() == key) {
        m = it->second.Mark();
        break;
      }
    }
  }
  return m;
}

void ConfigNode::error_at(const std::string& key, const std::string& msg) const {
  diag_->error(mark_of(key), (path_.empty() ? key : path_ + "." + key) + ": " + msg);
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
  std::string why;
  auto v = interpolate_env(n.Scalar(), why);
  if (!v) {
    error_at(key, why);
    return std::nullopt;
  }
  return v;
}

std::string ConfigNode::str(const std::string& key, const std::string& def) {
  const bool present = has(key);
  auto v = scalar(key);
  if (v || !present) read_[key] = v ? *v : def;
  return v ? *v : def;
}

std::optional<std::string> ConfigNode::opt_str(const std::string& key) {
  auto v = scalar(key);
  if (v) read_[key] = *v;
  return v;
}

std::optional<std::string> ConfigNode::str_read(const std::string& key) const {
  auto it = read_.find(key);
  if (it == read_.end()) return std::nullopt;
  return it->second;
}

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
  if (v->empty() || *end != '\0' || !std::isfinite(n)) {
    error_at(key, "expected a number, found '" + *v + "'");
    return def;
  }
  if (n < min || n > max) {
    error_at(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return def;
  }
  return n;
}

namespace {
std::string too_long_message(const std::string& v) {
  static_assert(kMaxDuration == Millis(100LL * 365 * 86'400'000), "the message names 100y");
  return "is longer than the maximum of 100y, found '" + v + "'";
}
}  // namespace

Millis ConfigNode::duration(const std::string& key, Millis def) { return duration(key, def, Millis(0)); }

Millis ConfigNode::duration(const std::string& key, Millis def, Millis min) {
  auto v = scalar(key);
  if (!v) return def;
  bool too_long = false;
  auto d = parse_duration(*v, &too_long);
  if (!d) {
    error_at(key, too_long ? too_long_message(*v)
                           : "expected a duration like 500ms, 30s, 2m, 1h30m or 7d, found '" + *v + "'");
    return def;
  }
  if (*d < min) {
    error_at(key, "must be at least " + format_duration(min) + ", found '" + *v + "'");
    return def;
  }
  return *d;
}

std::optional<Millis> ConfigNode::opt_duration(const std::string& key) {
  auto v = scalar(key);
  if (!v || *v == "none") return std::nullopt;
  bool too_long = false;
  auto d = parse_duration(*v, &too_long);
  if (!d) {
    error_at(key, too_long ? too_long_message(*v) + " (use none for no limit)"
                           : "expected a duration like 30d or 7y, or none, found '" + *v + "'");
  }
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
  return bytes(key, def, 1, std::numeric_limits<int64_t>::max());
}

int64_t ConfigNode::bytes(const std::string& key, int64_t def, int64_t min, int64_t max) {
  auto v = scalar(key);
  if (!v) return def;
  bool too_large = false;
  auto n = parse_size(*v, &too_large);
  if (!n) {
    error_at(key, too_large ? "is too large, found '" + *v + "'"
                            : "expected a size like 64MiB or 1048576, found '" + *v + "'");
    return def;
  }
  if (*n < min || *n > max) {
    if (max == std::numeric_limits<int64_t>::max()) {
      error_at(key, "must be at least " + format_size(min) + ", found '" + *v + "'");
    } else {
      error_at(key, "must be between " + format_size(min) + " and " + format_size(max) + ", found '" + *v + "'");
    }
    return def;
  }
  return *n;
}

std::vector<std::string> ConfigNode::string_list(const std::string& key, std::vector<std::string> def) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  if (!n.IsSequence()) {
    error_at(key, "expected a list like [\"a\", \"b\"]");
    return def;
  }
  const std::string where = path_.empty() ? key : path_ + "." + key;
  std::vector<std::string> out;
  size_t i = 0;
  for (const auto& item : n) {
    const std::string at = where + "[" + std::to_string(i++) + "]";
    if (!item.IsScalar()) {
      diag_->error(item.Mark(), at + ": expected a list of strings");
      continue;
    }
    std::string why;
    auto v = interpolate_env(item.Scalar(), why);
    if (!v) {
      diag_->error(item.Mark(), at + ": " + why);
      continue;
    }
    out.push_back(std::move(*v));
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
