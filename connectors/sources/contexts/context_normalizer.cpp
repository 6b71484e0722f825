#include "sources/contexts/context_normalizer.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/normalize.h"
#include "core/time_util.h"

namespace ldx {

std::optional<int64_t> parse_rfc3339_ns(std::string_view text) {
  // Split "....:57.526470334Z" into the whole seconds and the fraction.
  auto t = text.find('T');
  if (t == std::string_view::npos) return std::nullopt;
  auto dot = text.find('.', t);
  int64_t frac_ns = 0;
  std::string whole(text);
  if (dot != std::string_view::npos) {
    size_t end = dot + 1;
    int digits = 0;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (text[end] - '0');
        ++digits;
      }
      ++end;
    }
    if (end == dot + 1) return std::nullopt;
    for (; digits < 9; ++digits) frac_ns *= 10;
    whole = std::string(text.substr(0, dot)) + std::string(text.substr(end));
  }
  auto ms = parse_rfc3339_ms(whole);
  if (!ms) return std::nullopt;
  return *ms * 1'000'000 + frac_ns;
}

std::optional<int64_t> context_last_seen_ns(simdjson::dom::element item) {
  if (!item.is_object()) return std::nullopt;
  auto last_seen = get_string(item, "lastSeen");
  if (!last_seen) return std::nullopt;
  return parse_rfc3339_ns(*last_seen);
}

namespace {

// Percent-encodes '%' always, ':' when `colon`, '/' always. A key is an arbitrary
// string: raw, "a/b" and "a" with applicationId "b" would both be ".../a/b". Encoded,
// the key part of an id never holds a '/', so an id splits exactly into
// project/env/kind/key[/applicationId], and an ordinary key (no '%' or '/') is unchanged.
std::string escape_key(std::string_view key, bool colon) {
  std::string out;
  for (char c : key) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else if (colon && c == ':') {
      out += "%3A";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// kind and key of the context; for kind "multi" the canonical key of its members. `id_key`
// is the key as the record id holds it: escaped for '%' and '/' (a multi-context's
// canonical key escapes its members' keys, ':' included, so it is escaped once).
Status context_identity(simdjson::dom::element ctx, std::string& kind, std::string& key, std::string& id_key) {
  if (!ctx.is_object()) return Status::data_error("context is not an object");
  auto k = get_string(ctx, "kind");
  kind = k ? std::string(*k) : "user";  // a context without kind is a user (old-style)
  if (kind != "multi") {
    auto kk = get_string(ctx, "key");
    if (!kk) return Status::data_error("context of kind " + kind + " has no string key");
    key = std::string(*kk);
    id_key = escape_key(key, false);
    return Status::ok();
  }
  std::vector<std::pair<std::string, std::string>> parts;
  for (auto field : simdjson::dom::object(ctx)) {
    if (field.key == "kind" || field.key == "_meta" || !field.value.is_object()) continue;
    auto kk = get_string(field.value, "key");
    if (!kk) return Status::data_error("multi-context member " + std::string(field.key) + " has no string key");
    parts.emplace_back(std::string(field.key), std::string(*kk));
  }
  if (parts.empty()) return Status::data_error("multi-context has no members");
  std::sort(parts.begin(), parts.end());
  key.clear();
  id_key.clear();
  for (const auto& [kd, kk] : parts) {
    if (!key.empty()) key += ':';
    key += kd + ":" + escape_key(kk, true);
  }
  id_key = key;  // the members' keys are escaped already, '/' included
  return Status::ok();
}

}  // namespace

Result<ContextEntity> normalize_context(simdjson::dom::element item, const std::string& project,
                                        const std::string& environment, const SecretPolicy& policy, int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("context record is not a JSON object");
  simdjson::dom::element ctx;
  if (item["context"].get(ctx) != simdjson::SUCCESS) return Status::data_error("context record has no context");
  simdjson::dom::parser inner;  // only for the JSON-encoded-string form
  std::string_view encoded;
  if (ctx.get(encoded) == simdjson::SUCCESS) {
    if (inner.parse(std::string(encoded)).get(ctx) != simdjson::SUCCESS) {
      return Status::data_error("context record's context is a string but not JSON");
    }
  }
  std::string kind;
  std::string key;
  std::string id_key;
  if (auto st = context_identity(ctx, kind, key, id_key); !st.is_ok()) return st;
  auto last_seen = get_string(item, "lastSeen");
  if (!last_seen) return Status::data_error("context " + kind + ":" + key + " has no lastSeen");
  auto ns = parse_rfc3339_ns(*last_seen);
  if (!ns) return Status::data_error("context " + kind + ":" + key + " has an unreadable lastSeen");

  ContextEntity e;
  Record& r = e.record;
  r.stream = kContextsStream;
  // The applicationId is the id's last part and may hold '/' (the spec's example is
  // "GoSDK/1.2"): kept raw, so ids of such records stay what they were. The kind is
  // escaped like a key (LaunchDarkly kinds hold no '%' or '/': a no-op for them).
  r.id = project + "/" + environment + "/" + escape_key(kind, false) + "/" + id_key;
  if (auto app = get_string(item, "applicationId"); app && !app->empty()) r.id += "/" + std::string(*app);
  r.project = project;
  r.environment = environment;
  r.kind = kind;
  r.occurred_at_ms = *ns / 1'000'000;
  r.observed_at_ms = now_ms;
  r.data = serialize_redacted(item, policy);
  r.finish();
  e.last_seen_ns = *ns;
  return e;
}

}  // namespace ldx
