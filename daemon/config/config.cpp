#include "config/config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ldx {

namespace {

// A control character (CR, LF, tab, NUL, DEL...) in a value sent as an HTTP header would
// split or corrupt the request (header injection).
bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string read_token_file(ConfigNode& ld, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    ld.error_at("token_file", "cannot read token file '" + path + "'");
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) {
    ld.error_at("token_file", "token file '" + path + "' is empty");
  } else if (has_control_char(t)) {
    // Never the token itself, not even in part.
    ld.error_at("token_file", "the token in '" + path +
                                  "' contains a control character (a line break, tab or similar) before its end; "
                                  "only a trailing newline is ignored (the token is not shown)");
  }
  return t;
}

void parse_launchdarkly(ConfigNode ld, LaunchDarklyConfig& out) {
  if (!ld.valid()) {
    ld.diag().error_at_file("missing section 'launchdarkly' (base_url and token)");
    return;
  }
  out.base_url = ld.str("base_url", out.base_url);
  while (!out.base_url.empty() && out.base_url.back() == '/') out.base_url.pop_back();
  if (!(out.base_url.starts_with("https://") || out.base_url.starts_with("http://"))) {
    ld.error_at("base_url", "must start with https:// (or http:// for a local simulator)");
  }
  auto token = ld.opt_str("token");
  auto token_file = ld.opt_str("token_file");
  if (token && token_file) ld.error_at("token_file", "set either token or token_file, not both");
  if (token) out.token = *token;
  if (token_file) out.token = read_token_file(ld, *token_file);
  // (A token whose value had an error, e.g. an unset variable, has that error instead.)
  if (!ld.has("token") && !ld.has("token_file"))
    ld.error("missing token: set launchdarkly.token (e.g. ${LD_API_TOKEN}) or token_file");
  else if (token && token->empty()) ld.error_at("token", "the token is empty");
  else if (token && has_control_char(*token)) {
    // Never the token itself, not even in part.
    ld.error_at("token",
                "the token contains a control character (a line break, tab or similar), which cannot be sent "
                "in an HTTP header (the token is not shown)");
  }
  out.ca_bundle = ld.str("ca_bundle", "");
  if (!out.ca_bundle.empty()) {
    // Found here, not at the first request: a wrong path would otherwise pass `validate`
    // and fail every stream at start with a TLS error that does not name the key.
    std::ifstream ca(out.ca_bundle);
    if (!ca) {
      ld.error_at("ca_bundle", "cannot read CA bundle '" + out.ca_bundle + "': " + std::strerror(errno));
    } else if (std::filesystem::is_directory(out.ca_bundle)) {
      ld.error_at("ca_bundle", "'" + out.ca_bundle + "' is a directory; ca_bundle is a PEM file of CAs");
    }
  }
  out.api_version = ld.str("api_version", out.api_version);
  if (has_control_char(out.api_version))
    ld.error_at("api_version", "contains a control character (a line break, tab or similar)");
  // 0 would mean "no timeout" to libcurl.
  out.connect_timeout = ld.duration("connect_timeout", out.connect_timeout, Millis(1000));
  out.request_timeout = ld.duration("request_timeout", out.request_timeout, Millis(1000));
  out.max_retries = static_cast<int>(ld.integer("max_retries", out.max_retries, 0, 100));
  out.retry_base = ld.duration("retry_base", out.retry_base, Millis(10));
  out.retry_max = ld.duration("retry_max", out.retry_max, Millis(10));
  if (out.retry_max < out.retry_base) {
    ld.error_at(ld.has("retry_max") ? "retry_max" : "retry_base",
                "retry_max (" + format_duration(out.retry_max) + ") must be at least retry_base (" +
                    format_duration(out.retry_base) + ")");
  }
  out.include_secrets = ld.boolean("include_secrets", false);
  out.projects = ld.string_list("projects", out.projects);
  out.environments = ld.string_list("environments", out.environments);
  ld.reject_unknown_keys();
}

void parse_log(ConfigNode log, LogConfig& out) {
  if (!log.valid()) return;
  out.level = log.str("level", out.level);
  static const std::vector<std::string> kLevels{"trace", "debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), out.level) == kLevels.end())
    log.error_at("level", "expected one of trace, debug, info, warn, error");
  out.format = log.str("format", out.format);
  if (out.format != "auto" && out.format != "json" && out.format != "text")
    log.error_at("format", "expected auto, json or text");
  out.progress_interval = log.duration("progress_interval", out.progress_interval, Millis(1000));
  log.reject_unknown_keys();
}

struct OwnedDir {
  std::string path;  // as configured (after ${VAR} replacement), or the default
  std::string what;  // "sink 'archive'", "dead_letter", ...
  ConfigNode* node;  // the section whose `path` it is (invalid: the section is absent)
};

// The directory a path names, for comparison: absolute, normalized, symbolic links resolved
// where the path exists.
std::string same_dir_key(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::absolute(path.empty() ? fs::path(".") : fs::path(path), ec);
  if (ec) p = fs::path(path);
  fs::path c = fs::weakly_canonical(p, ec);
  std::string s = (ec ? p.lexically_normal() : c.lexically_normal()).string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

void report_shared_dirs(const std::vector<OwnedDir>& dirs, Diagnostics& diag) {
  std::vector<std::string> keys;
  keys.reserve(dirs.size());
  for (const auto& d : dirs) keys.push_back(same_dir_key(d.path));
  auto located = [](const OwnedDir& d) { return d.node->valid() && d.node->has("path"); };
  std::vector<bool> reported(dirs.size(), false);
  for (size_t j = 0; j < dirs.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      if (keys[i] != keys[j]) continue;
      // Reported at the one written later in the file, preferring one whose path is written.
      size_t at = j;
      size_t other = i;
      const bool li = located(dirs[i]);
      const bool lj = located(dirs[j]);
      const YAML::Mark mi = dirs[i].node->valid() ? dirs[i].node->mark_of("path") : YAML::Mark::null_mark();
      const YAML::Mark mj = dirs[j].node->valid() ? dirs[j].node->mark_of("path") : YAML::Mark::null_mark();
      if ((li && !lj) || (li == lj && mi.pos > mj.pos)) std::swap(at, other);
      if (reported[at]) continue;
      reported[at] = true;
      const OwnedDir& o = dirs[other];
      std::string msg = "directory '" + dirs[at].path + "'" + (located(dirs[at]) ? "" : " (the default)") +
                        " is also used by " + o.what;
      if (located(o)) msg += " (line " + std::to_string(o.node->mark_of("path").line + 1) + ")";
      else msg += " (its default)";
      msg += ": each file sink, dead_letter and the file checkpoint need a directory of their own";
      if (dirs[at].node->valid()) dirs[at].node->error_at("path", msg);
      else diag.error_at_file(dirs[at].what + ".path: " + msg);
    }
  }
}

std::string known(const auto& map) {
  std::string s;
  for (const auto& [k, v] : map) s += (s.empty() ? "" : ", ") + k;
  return s;
}

LoadResult load(const YAML::Node& root, const std::string& name, Diagnostics& diag, const Catalog& catalog) {
  auto cfg = std::make_unique<Config>();
  cfg->source_file = name;
  if (!root.IsMap()) {
    diag.error(root.Mark(), "the config must be a YAML mapping with launchdarkly, streams, sinks and checkpoint");
    return {nullptr, diag.errors()};
  }
  ConfigNode top(root, "", &diag);
  parse_launchdarkly(top.child("launchdarkly"), cfg->launchdarkly);

  if (!top.has("streams")) diag.error_at_file("missing section 'streams': enable at least one stream");
  for (auto& [stream, node] : top.map_entries("streams")) {
    auto it = catalog.streams.find(stream);
    if (it == catalog.streams.end()) {
      node.error("unknown stream '" + stream + "' (known: " + known(catalog.streams) + ")");
      continue;
    }
    auto sc = it->second(node);
    sc->stream = stream;
    sc->enabled = node.boolean("enabled", true);
    sc->interval = node.duration("interval", sc->interval, Millis(1000));
    sc->jitter = node.duration("jitter", Millis(sc->interval.count() / 10));
    sc->batch_records = static_cast<size_t>(
        node.integer("batch_records", static_cast<int64_t>(sc->batch_records), 1, 1'000'000));
    sc->batch_bytes = static_cast<size_t>(
        node.bytes("batch_bytes", static_cast<int64_t>(sc->batch_bytes), 1024, int64_t{1} << 30));
    sc->batch_wait = node.duration("batch_wait", sc->batch_wait);
    node.reject_unknown_keys();
    cfg->streams.push_back(std::move(sc));
  }
  // `once` and `run` have nothing to do without one (and refuse to start).
  // (Not when a stream's section was wrong: that has its own error.)
  if (top.has("streams") && top.child("streams").is_map() &&
      top.child("streams").keys().size() == cfg->streams.size() &&
      std::none_of(cfg->streams.begin(), cfg->streams.end(), [](const auto& sc) { return sc->enabled; })) {
    top.error_at("streams", cfg->streams.empty() ? "no stream is configured: enable at least one (e.g. audit_log: {})"
                                                 : "no stream is enabled: every stream has enabled: false");
  }

  // Directories that one component locks for itself (the archive of a file sink, the
  // dead-letter output, the file checkpoint store): two in one directory cannot both start.
  std::vector<OwnedDir> dirs;
  std::vector<std::string> names;
  auto sinks = top.list("sinks");
  if (sinks.empty()) diag.error_at_file("missing section 'sinks': configure at least one sink");
  for (auto& node : sinks) {
    std::string type = node.str("type", "");
    std::string sink_name = node.str("name", type);
    auto it = catalog.sinks.find(type);
    if (it == catalog.sinks.end()) {
      node.error_at("type", "unknown sink type '" + type + "' (known: " + known(catalog.sinks) + ")");
      continue;
    }
    if (std::find(names.begin(), names.end(), sink_name) != names.end())
      node.error_at("name", "sink name '" + sink_name + "' is used twice");
    if (sink_name.starts_with("_")) node.error_at("name", "sink names starting with '_' are reserved");
    names.push_back(sink_name);
    auto sc = it->second(node);
    sc->name = sink_name;
    sc->type = type;
    if (type == "file") {
      if (auto path = node.str_read("path")) dirs.push_back({*path, "sink '" + sink_name + "'", &node});
    }
    node.reject_unknown_keys();
    cfg->sinks.push_back(std::move(sc));
  }

  ConfigNode cp = top.child("checkpoint");
  if (!cp.valid()) {
    diag.error_at_file("missing section 'checkpoint' (e.g. { type: file, path: ./ldexport-state })");
  } else {
    std::string type = cp.str("type", "file");
    auto it = catalog.checkpoints.find(type);
    if (it == catalog.checkpoints.end()) {
      cp.error_at("type", "unknown checkpoint type '" + type + "' (known: " + known(catalog.checkpoints) + ")");
    } else {
      cfg->checkpoint = it->second(cp);
      cfg->checkpoint->type = type;
      if (type == "file") {
        if (auto path = cp.str_read("path")) dirs.push_back({*path, "the file checkpoint", &cp});
      }
      cp.reject_unknown_keys();
    }
  }

  ConfigNode dl = top.child("dead_letter");
  if (dl.valid()) {
    cfg->dead_letter_path = dl.str("path", cfg->dead_letter_path);
    dl.reject_unknown_keys();
  }
  if (auto path = dl.valid() ? dl.str_read("path") : cfg->dead_letter_path) dirs.push_back({*path, "dead_letter", &dl});
  report_shared_dirs(dirs, diag);
  parse_log(top.child("log"), cfg->log);
  ConfigNode http = top.child("http");
  if (http.valid()) {
    cfg->http.enabled = http.boolean("enabled", cfg->http.enabled);
    cfg->http.listen = http.str("listen", cfg->http.listen);
    auto colon = cfg->http.listen.rfind(':');
    if (colon == std::string::npos || colon == 0 ||
        cfg->http.listen.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
        colon + 1 == cfg->http.listen.size()) {
      http.error_at("listen", "expected HOST:PORT like 0.0.0.0:9464, found '" + cfg->http.listen + "'");
    } else {
      int64_t port = 0;
      for (size_t i = colon + 1; i < cfg->http.listen.size() && port <= 65535; ++i)
        port = port * 10 + (cfg->http.listen[i] - '0');
      if (port > 65535) {
        http.error_at("listen", "the port must be between 0 and 65535 (0 picks a free one), found '" +
                                    cfg->http.listen + "'");
      }
    }
    http.reject_unknown_keys();
  }
  cfg->shutdown_timeout = top.duration("shutdown_timeout", cfg->shutdown_timeout, Millis(1000));
  top.reject_unknown_keys();

  if (!diag.ok()) return {nullptr, diag.errors()};
  return {std::move(cfg), {}};
}

}  // namespace

LoadResult load_config_string(const std::string& yaml, const std::string& name, const Catalog& catalog) {
  Diagnostics diag(name);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    diag.error(e.mark, "YAML syntax error: " + e.msg);
    return {nullptr, diag.errors()};
  }
  check_duplicate_keys(yaml, diag);
  return load(root, name, diag, catalog);
}

LoadResult load_config_file(const std::string& path, const Catalog& catalog) {
  std::ifstream in(path);
  if (!in) return {nullptr, {path + ": cannot open config file"}};
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_string(ss.str(), path, catalog);
}

}  // namespace ldx
