// A typed, located view of one YAML mapping. Every problem is recorded with
// file:line:column (Fluent Bit style: unknown keys are errors, every key has a default).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

// Replaces ${VAR} and ${VAR:-default} (VAR: letters, digits and '_', not starting with a
// digit; set to the empty string counts as unset). "$${" escapes a literal "${". Returns
// nullopt and sets `error` (a message naming the reference) when VAR is unset and has no
// default, or when a "${" is not a well-formed reference (no closing '}', a bad name).
std::optional<std::string> interpolate_env(const std::string& in, std::string& error);

// Byte sizes: a whole number of bytes ("1048576"), or a whole number with a unit: B,
// KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000), e.g. "64MiB". Returns
// nullopt on bad input, and also when the size does not fit in int64_t; `too_large`
// (when given) is then set to true. Never wraps around.
std::optional<int64_t> parse_size(std::string_view text, bool* too_large = nullptr);
// 1073741824 -> "1GiB", 1024 -> "1KiB", 1000 -> "1000" (the largest binary unit that divides it).
std::string format_size(int64_t bytes);

// Reports every mapping key that appears twice in the same mapping, at any depth, at
// the second key's line and column (yaml-cpp keeps both and lookups see the first).
// Aliases are not expanded. `yaml` must already have loaded without a syntax error.
void check_duplicate_keys(const std::string& yaml, Diagnostics& diag);

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path, Diagnostics* diag);

  [[nodiscard]] bool valid() const { return node_.IsDefined() && !node_.IsNull(); }
  [[nodiscard]] bool is_map() const { return node_.IsMap(); }
  [[nodiscard]] bool has(const std::string& key) const;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] YAML::Mark mark() const { return node_.Mark(); }
  // Where `key`'s value is written (this mapping's own mark when the key is absent).
  [[nodiscard]] YAML::Mark mark_of(const std::string& key) const;
  [[nodiscard]] Diagnostics& diag() const { return *diag_; }
  void error(const std::string& msg) const;
  void error_at(const std::string& key, const std::string& msg) const;

  std::string str(const std::string& key, const std::string& def);
  // What str() or opt_str() returned for `key` (its default when the key is absent), when
  // it was read and had no error: lets the loader check values a component's parser read.
  [[nodiscard]] std::optional<std::string> str_read(const std::string& key) const;
  std::optional<std::string> opt_str(const std::string& key);
  bool boolean(const std::string& key, bool def);
  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max);
  double number(const std::string& key, double def, double min, double max);
  Millis duration(const std::string& key, Millis def);
  // The same, and an error "must be at least <min>" when the value is shorter than `min`.
  Millis duration(const std::string& key, Millis def, Millis min);
  std::optional<Millis> opt_duration(const std::string& key);  // "none" -> nullopt
  std::optional<int64_t> timestamp_ms(const std::string& key);
  // Byte sizes (see parse_size): 1048576, "64MiB", "1GiB", "512KiB", "10MB"; at least 1.
  int64_t bytes(const std::string& key, int64_t def);
  // The same within [min, max].
  int64_t bytes(const std::string& key, int64_t def, int64_t min, int64_t max);
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
  std::map<std::string, std::string> read_;  // str()/opt_str() results, see str_read()
};

}  // namespace ldx
