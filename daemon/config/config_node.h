// A typed, located view of one YAML mapping. Every problem is recorded with
// file:line:column (Fluent Bit style: unknown keys are errors, every key has a default).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/time_util.h"

namespace ldx {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  void error(const YAML::Mark& mark, const std::string& msg);
  void error_at_file(const std::string& msg) { errors_.push_back(file_ + ": " + msg); }
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }
  [[nodiscard]] bool ok() const { return errors_.empty(); }
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] std::string location(const YAML::Mark& mark) const;

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

// Replaces ${VAR} and ${VAR:-default}. Returns nullopt and sets `missing` when VAR is
// unset and has no default. "$${" escapes a literal "${".
std::optional<std::string> interpolate_env(const std::string& in, std::string& missing);

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path, Diagnostics* diag);

  [[nodiscard]] bool valid() const { return node_.IsDefined() && !node_.IsNull(); }
  [[nodiscard]] bool is_map() const { return node_.IsMap(); }
  [[nodiscard]] bool has(const std::string& key) const;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] YAML::Mark mark() const { return node_.Mark(); }
  [[nodiscard]] Diagnostics& diag() const { return *diag_; }
  void error(const std::string& msg) const;
  void error_at(const std::string& key, const std::string& msg) const;

  std::string str(const std::string& key, const std::string& def);
  std::optional<std::string> opt_str(const std::string& key);
  bool boolean(const std::string& key, bool def);
  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max);
  double number(const std::string& key, double def, double min, double max);
  Millis duration(const std::string& key, Millis def);
  std::optional<Millis> opt_duration(const std::string& key);  // "none" -> nullopt
  std::optional<int64_t> timestamp_ms(const std::string& key);
  // Byte sizes: 1048576, "64MiB", "1GiB", "512KiB", "10MB".
  int64_t bytes(const std::string& key, int64_t def);
  std::vector<std::string> string_list(const std::string& key, std::vector<std::string> def);
  ConfigNode child(const std::string& key);  // invalid node when absent
  std::vector<ConfigNode> list(const std::string& key);
  // Keys under `key` as a map of child nodes, in file order.
  std::vector<std::pair<std::string, ConfigNode>> map_entries(const std::string& key);
  // Every child of this mapping as (key, node), marking them used.
  std::vector<std::pair<std::string, ConfigNode>> entries();
  // The keys of this mapping in file order, for free-form maps of scalars (e.g. a
  // client library's properties); read each value with str(key).
  [[nodiscard]] std::vector<std::string> keys() const;
  // Reports keys of this mapping that no accessor asked for.
  void reject_unknown_keys();

 private:
  YAML::Node get(const std::string& key);
  std::optional<std::string> scalar(const std::string& key);
  YAML::Node node_;
  std::string path_;
  Diagnostics* diag_;
  std::set<std::string> used_;
};

}  // namespace ldx
