#include "sources/contexts/contexts_source.h"

#include <spdlog/spdlog.h>

#include "common/normalize.h"
#include "core/time_util.h"
#include "sources/contexts/context_normalizer.h"
#include "sources/entity/snapshot_state.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

bool ContextScopeCursor::admit(const std::string& id, int64_t ns) {
  if (last_seen_ns) {
    if (ns < *last_seen_ns) return false;
    if (ns == *last_seen_ns) return ids_at_last_seen.insert(id).second;
  }
  last_seen_ns = ns;
  ids_at_last_seen = {id};
  return true;
}

nlohmann::json ContextsCursor::to_json() const {
  nlohmann::json sc = nlohmann::json::object();
  for (const auto& [k, c] : scopes) {
    nlohmann::json j;
    j["token"] = c.token ? nlohmann::json(*c.token) : nlohmann::json();
    j["last_seen_ns"] = c.last_seen_ns ? nlohmann::json(*c.last_seen_ns) : nlohmann::json();
    // Readable beside the exact value, for `ldexport checkpoints list`.
    j["last_seen"] = c.last_seen_ns ? nlohmann::json(format_rfc3339_ms(*c.last_seen_ns / 1'000'000)) : nlohmann::json();
    j["ids"] = c.ids_at_last_seen;
    sc[k] = std::move(j);
  }
  return {{"v", 1}, {"scopes", std::move(sc)}};
}

Result<ContextsCursor> ContextsCursor::from_json(const nlohmann::json& j) {
  ContextsCursor c;
  if (j.is_null()) return c;
  try {
    if (!j.is_object() || j.value("v", 0) != 1) return Status::fatal("contexts cursor: unknown format");
    for (const auto& [k, v] : j.at("scopes").items()) {
      ContextScopeCursor s;
      if (!v.at("token").is_null()) s.token = v.at("token").get<std::string>();
      if (!v.at("last_seen_ns").is_null()) s.last_seen_ns = v.at("last_seen_ns").get<int64_t>();
      for (const auto& id : v.at("ids")) s.ids_at_last_seen.insert(id.get<std::string>());
      c.scopes[k] = std::move(s);
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::fatal(std::string("contexts cursor is malformed: ") + e.what());
  }
  return c;
}

std::optional<std::string> continuation_token_of_href(std::string_view href) {
  const auto q = href.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = href.substr(q + 1);
  query = query.substr(0, query.find('#'));
  static constexpr std::string_view kName = "continuationToken=";
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.substr(0, kName.size()) != kName) continue;
    const std::string_view raw = param.substr(kName.size());
    // Percent-decoded; '+' stays '+' (an opaque token may be base64).
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2])));
        i += 2;
      } else {
        out.push_back(raw[i]);
      }
    }
    if (out.empty()) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

namespace {

constexpr const char* kSearchRoute = "POST /api/v2/projects/{projectKey}/environments/{environmentKey}/contexts/search";

struct ContextScope {
  std::string key;  // project/env
  std::string project;
  std::string environment;
};

class ContextsPass final : public EntityPass {
 public:
  ContextsPass(ContextsCursor& cursor, std::vector<ContextScope> scopes, int limit, SecretPolicy policy)
      : cursor_(cursor), scopes_(std::move(scopes)), limit_(limit), policy_(policy) {}

  PassStep next() override {
    if (idx_ >= scopes_.size()) return PassStep::done();
    const ContextScope& s = scopes_[idx_];
    ContextScopeCursor& c = cursor_.scopes[s.key];
    nlohmann::json body{{"sort", "ts"}, {"limit", limit_}};
    if (c.token) {
      body["continuationToken"] = *c.token;
      requested_tokens_.requested(*c.token);
    }
    ApiCall call;
    call.method = "POST";
    call.target = "/api/v2/projects/" + url_escape(s.project) + "/environments/" + url_escape(s.environment) +
                  "/contexts/search";
    call.route = kSearchRoute;
    call.body = body.dump();
    return PassStep::request(std::move(call));
  }

  Status on_answer(const ApiCall& call, const ApiAnswer& answer, int64_t now_ms, StepOutput& out) override {
    ++out.pages;
    const ContextScope& s = scopes_[idx_];
    ContextScopeCursor& c = cursor_.scopes[s.key];
    if (answer.status == 404) {
      spdlog::info("stream contexts: {} answered 404; the environment is gone", call.describe());
      next_scope();
      return Status::ok();
    }
    if (answer.status == 400) {
      if (c.token && !rescanned_.count(s.key)) {
        // The token expired or is unknown: read this environment from the start; admit()
        // skips everything up to the last exported lastSeen.
        spdlog::warn("stream contexts: {} refused the continuation token ({}); reading {} from the start",
                     call.describe(), describe_api_error(answer.status, answer.message), s.key);
        rescanned_.insert(s.key);
        c.token.reset();
        requested_tokens_.clear();  // the rescan walks past tokens this pass already used
        return Status::ok();
      }
      return Status::fatal(call.describe() + ": LaunchDarkly rejected the search: " +
                           describe_api_error(answer.status, answer.message));
    }
    if (answer.status != 200) {
      return Status::fatal(call.describe() + ": " + describe_api_error(answer.status, answer.message));
    }
    simdjson::dom::array items;
    if (answer.doc["items"].get(items) != simdjson::SUCCESS) {
      return Status::retryable(call.describe() + ": response has no items array");
    }
    // More follows while _links.next is there (without _links: while pages are full).
    simdjson::dom::element links;
    simdjson::dom::element next;
    bool more = false;
    bool has_links = answer.doc["_links"].get(links) == simdjson::SUCCESS && links.is_object();
    if (has_links) {
      more = links["next"].get(next) == simdjson::SUCCESS && !next.is_null();
    } else {
      more = items.size() >= static_cast<size_t>(limit_);
    }
    // The token names the last item's position (API-NOTES §3). The body's
    // continuationToken first; without it, the one in _links.next.href (the spec prefers
    // `next`, but it points at a GET .../contexts the spec does not declare, so the
    // search is re-POSTed with its token).
    std::optional<std::string> token;
    if (std::string_view body_token;
        answer.doc["continuationToken"].get(body_token) == simdjson::SUCCESS && !body_token.empty()) {
      token = std::string(body_token);
    } else if (more && has_links) {
      std::string_view href;
      if (next["href"].get(href) == simdjson::SUCCESS) token = continuation_token_of_href(href);
    }
    if (more && items.size() > 0 && !token) {
      // Stopping here would silently leave every later context of the environment
      // unexported, on every pass.
      return Status::retryable(call.describe() + ": contexts of " + s.key +
                               ": the page says more contexts follow but gives no continuationToken "
                               "(neither in the body nor in _links.next.href); cannot read on");
    }
    for (auto item : items) {
      auto e = normalize_context(item, s.project, s.environment, policy_, now_ms);
      if (!e.is_ok()) {
        const std::string raw = simdjson::minify(item);
        // Every pass re-reads the environment's last page, so an unreadable context there
        // would be dead-lettered on every pass. With a readable lastSeen it has a place in
        // the sort=ts order: admit() decides whether it is new, as for a readable context,
        // under an id made from its content (bounded like the others: the cursor keeps
        // only the ids at its newest lastSeen). Seen again, it has a newer lastSeen and is
        // dead-lettered again, once. Without a readable lastSeen there is no place to
        // remember it by: it is dead-lettered each time it is read.
        // The id is made from the context as read (committed cursors hold it); the dead
        // letter holds it redacted.
        if (auto ns = context_last_seen_ns(item); ns && !c.admit("unreadable:" + content_fingerprint(raw), *ns)) {
          continue;
        }
        out.dead_letters.push_back({kContextsStream, e.status().message(), dead_letter_raw(item, policy_), now_ms});
        continue;
      }
      if (c.admit(e->record.id, e->last_seen_ns)) out.records.push_back(std::move(e->record));
    }
    // Saved with this page's records, the token makes the next request (now, or after a
    // restart, or next pass) continue strictly after this page. A last page without a
    // token keeps the one that read it: re-reading that page costs one request and
    // admit() drops what it already exported.
    if (items.size() > 0 && token) c.token = std::move(*token);
    if (more && items.size() > 0 && c.token && requested_tokens_.seen(*c.token)) {
      // Following the token would request pages already read, forever. Move on so the
      // other environments are still exported, but say what it costs: the looping token
      // is saved above and committed, so every later pass starts from it and meets the
      // loop again; the contexts after it are not exported until LaunchDarkly stops
      // handing it back (then the pass that starts from it reads on).
      spdlog::warn("stream contexts: {}: LaunchDarkly handed back a continuation token this pass already "
                   "requested (a loop); the contexts of {} after this point are not exported while LaunchDarkly "
                   "keeps handing back this token; the next pass tries again",
                   call.describe(), s.key);
    }
    if (!more || items.size() == 0 || !c.token || requested_tokens_.seen(*c.token)) next_scope();
    return Status::ok();
  }

  Status run_local(int64_t /*now_ms*/, StepOutput& /*out*/) override { return Status::ok(); }
  [[nodiscard]] nlohmann::json cursor() const override { return cursor_.to_json(); }

 private:
  void next_scope() {
    ++idx_;
    requested_tokens_.clear();
  }

  ContextsCursor& cursor_;
  std::vector<ContextScope> scopes_;
  size_t idx_ = 0;
  int limit_;
  SecretPolicy policy_;
  std::set<std::string> rescanned_;
  TokenLoopDetector requested_tokens_;  // a token handed back twice is a loop, not progress
};

class ContextsEntityStream final : public EntityStream {
 public:
  ContextsEntityStream(int limit, const LaunchDarklyConfig& ld) : limit_(limit), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  Result<std::unique_ptr<EntityPass>> begin_pass(const nlohmann::json& cursor, const std::vector<ProjectInfo>& projects,
                                                 int64_t /*now_ms*/) override {
    auto c = ContextsCursor::from_json(cursor);
    if (!c.is_ok()) return c.status();
    cursor_ = std::move(c.value());
    std::vector<ContextScope> scopes;
    for (const auto& p : projects) {
      for (const auto& e : p.environments) scopes.push_back({p.key + "/" + e.key, p.key, e.key});
    }
    return std::unique_ptr<EntityPass>(std::make_unique<ContextsPass>(cursor_, std::move(scopes), limit_, policy_));
  }

 private:
  std::string name_ = kContextsStream;
  int limit_;
  SecretPolicy policy_;
  ContextsCursor cursor_;
};

}  // namespace

std::unique_ptr<EntityStream> make_contexts_stream(const ContextsConfig& cfg, const LaunchDarklyConfig& ld) {
  return std::make_unique<ContextsEntityStream>(cfg.page_limit, ld);
}

Result<std::unique_ptr<Source>> ContextsConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_contexts_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_contexts_config(ConfigNode& node) {
  auto c = std::make_unique<ContextsConfig>();
  c->page_limit = read_page_limit(node, 50, 50);
  return c;
}

}  // namespace ldx
