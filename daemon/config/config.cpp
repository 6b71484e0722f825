#include "config/config.h"

#include <fstream>
#include <sstream>

namespace ldx {

namespace {

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
  if (t.empty()) ld.error_at("token_file", "token file '" + path + "' is empty");
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
  if (!token && !token_file) ld.error("missing token: set launchdarkly.token (e.g. ${LD_API_TOKEN}) or token_file");
  else if (token && token->empty()) ld.error_at("token", "the token is empty");
  out.ca_bundle = ld.str("ca_bundle", "");
  out.api_version = ld.str("api_version", out.api_version);
  out.connect_timeout = ld.duration("connect_timeout", out.connect_timeout);
  out.request_timeout = ld.duration("request_timeout", out.request_timeout);
  out.max_retries = static_cast<int>(ld.integer("max_retries", out.max_retries, 0, 100));
  out.retry_base = ld.duration("retry_base", out.retry_base);
  out.retry_max = ld.duration("retry_max", out.retry_max);
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
  out.progress_interval = log.duration("progress_interval", out.progress_interval);
  log.reject_unknown_keys();
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
    sc->interval = node.duration("interval", sc->interval);
    if (sc->interval.count() < 1000) node.error_at("interval", "must be at least 1s");
    sc->jitter = node.duration("jitter", Millis(sc->interval.count() / 10));
    sc->batch_records = static_cast<size_t>(
        node.integer("batch_records", static_cast<int64_t>(sc->batch_records), 1, 1'000'000));
    sc->batch_bytes = static_cast<size_t>(
        node.integer("batch_bytes", static_cast<int64_t>(sc->batch_bytes), 1024, int64_t{1} << 30));
    sc->batch_wait = node.duration("batch_wait", sc->batch_wait);
    node.reject_unknown_keys();
    cfg->streams.push_back(std::move(sc));
  }

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
      cp.reject_unknown_keys();
    }
  }

  ConfigNode dl = top.child("dead_letter");
  if (dl.valid()) {
    cfg->dead_letter_path = dl.str("path", cfg->dead_letter_path);
    dl.reject_unknown_keys();
  }
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
    }
    http.reject_unknown_keys();
  }
  cfg->shutdown_timeout = top.duration("shutdown_timeout", cfg->shutdown_timeout);
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
