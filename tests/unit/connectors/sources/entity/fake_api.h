// Test support: an in-memory LaunchDarkly for driving entity passes without HTTP, and
// an "archive" that keeps the last record per id, as a sink replaying batches would.
#pragma once

#include <simdjson.h>

#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sources/entity/entity_pass.h"

namespace ldx::test {

inline std::map<std::string, std::string> query_params(const std::string& target, std::string& path,
                                                       std::vector<std::pair<std::string, std::string>>* ordered) {
  std::map<std::string, std::string> out;
  auto q = target.find('?');
  path = target.substr(0, q);
  if (q == std::string::npos) return out;
  std::string rest = target.substr(q + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t amp = rest.find('&', pos);
    std::string kv = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq);
    std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    out[k] = v;
    if (ordered) ordered->emplace_back(k, v);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

class FakeApi {
 public:
  // Listings keyed by the target without limit/offset, e.g.
  // "/api/v2/flags/default?summary=0&env=production".
  std::map<std::string, std::vector<nlohmann::json>> lists;
  // Single GETs keyed by the whole target.
  std::map<std::string, nlohmann::json> singles;
  // POST handler (contexts search); nullopt = 404.
  std::function<ApiAnswer(const ApiCall&, simdjson::dom::parser&)> post;
  // Consulted first (e.g. the audit log); nullopt = not handled.
  std::function<std::optional<ApiAnswer>(const ApiCall&, FakeApi&)> custom;
  // Runs before each answer (e.g. a mutation between two pages of a walk).
  std::function<void(int request_no)> before_answer;
  std::string total_field = "totalCount";
  int max_limit = std::numeric_limits<int>::max();  // served at most (a server-side cap)
  int requests = 0;
  std::vector<std::string> targets;

  ApiAnswer answer(const ApiCall& c) {
    ++requests;
    targets.push_back(c.target);
    if (before_answer) before_answer(requests);
    if (custom) {
      if (auto a = custom(c, *this)) return *a;
    }
    if (c.method == "POST") {
      if (post) return post(c, parser_);
      return {404, {}, "not found"};
    }
    if (auto it = singles.find(c.target); it != singles.end()) return parse(it->second.dump());
    std::string path;
    std::vector<std::pair<std::string, std::string>> ordered;
    auto params = query_params(c.target, path, &ordered);
    std::string key = path;
    std::string sep = "?";
    for (const auto& [k, v] : ordered) {
      if (k == "limit" || k == "offset") continue;
      key += sep + k + "=" + v;
      sep = "&";
    }
    auto it = lists.find(key);
    if (it == lists.end()) return {404, {}, "not found: " + key};
    const auto& items = it->second;
    const int64_t limit = std::min<int64_t>(params.count("limit") ? std::stoll(params["limit"]) : 20, max_limit);
    const int64_t offset = params.count("offset") ? std::stoll(params["offset"]) : 0;
    nlohmann::json page = {{"items", nlohmann::json::array()}, {total_field, items.size()}};
    for (int64_t i = offset; i < offset + limit && i < static_cast<int64_t>(items.size()); ++i) {
      page["items"].push_back(items[static_cast<size_t>(i)]);
    }
    page["_links"] = {{"self", {{"href", c.target}}}};
    if (offset + limit < static_cast<int64_t>(items.size())) {
      page["_links"]["next"] = {{"href", key + "&limit=" + std::to_string(limit) + "&offset=" +
                                             std::to_string(offset + limit)}};
    }
    return parse(page.dump());
  }

  ApiAnswer parse(const std::string& body) {
    bodies_.push_back(body);
    ApiAnswer a;
    a.status = 200;
    a.doc = parser_.parse(bodies_.back());
    return a;
  }

 private:
  simdjson::dom::parser parser_;
  std::vector<std::string> bodies_;
};

// The last record per id, as every sink would hold after replays (ARCHITECTURE §3).
struct Archive {
  std::map<std::string, nlohmann::json> last;
  std::vector<nlohmann::json> all;
  void apply(const std::vector<Record>& records) {
    for (const auto& r : records) {
      auto env = nlohmann::json::parse(r.envelope);
      last[r.id] = env;
      all.push_back(env);
    }
  }
  [[nodiscard]] std::map<std::string, std::string> ops() const {
    std::map<std::string, std::string> out;
    for (const auto& [id, e] : last) out[id] = e["op"];
    return out;
  }
};

struct PassRun {
  std::vector<nlohmann::json> cursors;  // after each committed batch
  std::vector<DeadLetter> dead_letters;
  nlohmann::json final_cursor;
  bool completed = false;
  int steps = 0;
};

// Drives one pass as EntitySource does; stops (a crash after a commit) after
// `max_batches` batches. Records go to `archive` batch by batch.
inline PassRun run_pass(EntityStream& stream, const nlohmann::json& cursor, const std::vector<ProjectInfo>& projects,
                        FakeApi& api, Archive& archive, int64_t now_ms,
                        size_t max_batches = std::numeric_limits<size_t>::max()) {
  PassRun run;
  run.final_cursor = cursor;
  auto pass = stream.begin_pass(cursor, projects, now_ms);
  if (!pass.is_ok()) throw std::runtime_error(pass.status().message());
  for (size_t n = 0; n < max_batches; ++n) {
    if (++run.steps > 100000) throw std::runtime_error("pass does not end");
    PassStep step = pass.value()->next();
    if (step.kind == PassStep::Kind::kDone) {
      run.completed = true;
      return run;
    }
    StepOutput out;
    Status st;
    if (step.kind == PassStep::Kind::kLocal) {
      st = pass.value()->run_local(now_ms, out);
    } else {
      ApiAnswer a = api.answer(step.call);
      st = pass.value()->on_answer(step.call, a, now_ms, out);
    }
    if (!st.is_ok()) throw std::runtime_error(st.message());
    archive.apply(out.records);
    for (auto& d : out.dead_letters) run.dead_letters.push_back(std::move(d));
    run.final_cursor = pass.value()->cursor();
    run.cursors.push_back(run.final_cursor);
  }
  return run;
}

inline ProjectInfo project(const std::string& key, std::vector<std::string> envs) {
  ProjectInfo p;
  p.key = key;
  for (auto& e : envs) p.environments.push_back({e, nlohmann::json{{"key", e}}.dump()});
  return p;
}

}  // namespace ldx::test
