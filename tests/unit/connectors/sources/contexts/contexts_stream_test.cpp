// The contexts stream against an in-memory contexts/search: sort=ts order, tokens that
// name the last item's position, contexts seen again moving to the end.
#include "sources/contexts/contexts_source.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>

#include "../entity/fake_api.h"
#include "sources/entity/snapshot_state.h"

namespace ldx {
namespace {

using test::Archive;
using test::FakeApi;
using test::run_pass;

struct FakeContexts {
  struct Rec {
    std::string key;
    std::string app;
    int64_t seq = 0;  // position in ts order (lastSeen strictly increases with it)
    enum class Bad { kNo, kNoKey, kNoLastSeen } bad = Bad::kNo;  // an unreadable record
  };
  std::vector<Rec> recs;  // sorted by seq
  int64_t next_seq = 1;
  int generation = 0;  // tokens minted before expire_all() are refused
  // Where a page gives its continuation token: the body (and the next href), only
  // _links.next.href (percent-encoded), or nowhere.
  enum class TokenIn { kBody, kNextHref, kNowhere } token_in = TokenIn::kBody;
  std::string fixed_token;  // when set, every page hands back this token (a loop)
  void expire_all() { ++generation; }
  std::vector<nlohmann::json> bodies;

  void add(const std::string& key, const std::string& app = "") { recs.push_back({key, app, next_seq++}); }
  // A record that cannot be read: a context without a key (`name` tells them apart), or
  // one without lastSeen.
  void add_bad(const std::string& name, Rec::Bad how = Rec::Bad::kNoKey) {
    recs.push_back({name, "", next_seq++, how});
  }
  void seen_again(const std::string& key) {
    for (auto it = recs.begin(); it != recs.end(); ++it) {
      if (it->key == key) {
        Rec r = *it;
        recs.erase(it);
        r.seq = next_seq++;
        recs.push_back(r);
        return;
      }
    }
  }
  static std::string percent_encode(const std::string& t) {
    std::string out;
    for (char c : t) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        out.push_back(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
        out += buf;
      }
    }
    return out;
  }
  static std::string last_seen(int64_t seq) {
    // 2025-01-01T00:00:00Z + seq ms, with a nanosecond tail that keeps the order exact.
    char buf[64];
    std::snprintf(buf, sizeof buf, "2025-01-01T00:%02lld:%02lld.%03lld000007Z", static_cast<long long>(seq / 60000),
                  static_cast<long long>((seq / 1000) % 60), static_cast<long long>(seq % 1000));
    return buf;
  }
  ApiAnswer answer(const ApiCall& c, simdjson::dom::parser& parser, int limit_max = 50) {
    auto body = nlohmann::json::parse(c.body);
    bodies.push_back(body);
    EXPECT_EQ(body["sort"], "ts");
    EXPECT_EQ(c.target.find('?'), std::string::npos) << "query parameters and a body at once are an error";
    const int limit = std::min(body["limit"].get<int>(), limit_max);
    int64_t after = 0;
    if (body.contains("continuationToken")) {
      const std::string t = body["continuationToken"];
      const auto dash = t.find('-');
      if (std::stoi(t.substr(1, dash - 1)) != generation) return {400, {}, "invalid continuation token"};
      after = std::stoll(t.substr(dash + 1));
    }
    nlohmann::json page = {{"items", nlohmann::json::array()}, {"_environmentId", "env-id"}, {"_links", nlohmann::json::object()}};
    size_t n = 0;
    bool more = false;
    std::string token;
    for (const auto& r : recs) {
      if (r.seq <= after) continue;
      if (n == static_cast<size_t>(limit)) {
        more = true;
        break;
      }
      nlohmann::json item = {{"context", {{"kind", "user"}, {"key", r.key}}}, {"lastSeen", last_seen(r.seq)}};
      if (!r.app.empty()) item["applicationId"] = r.app;
      if (r.bad == Rec::Bad::kNoKey) item["context"] = {{"kind", "user"}, {"name", r.key}};
      if (r.bad == Rec::Bad::kNoLastSeen) item.erase("lastSeen");
      page["items"].push_back(item);
      token = fixed_token.empty() ? "t" + std::to_string(generation) + "-" + std::to_string(r.seq) : fixed_token;
      if (token_in == TokenIn::kBody) page["continuationToken"] = token;
      ++n;
    }
    std::string href = "/api/v2/projects/p/environments/e/contexts?sort=ts&limit=" + std::to_string(limit);
    if (token_in != TokenIn::kNowhere) href += "&continuationToken=" + percent_encode(token);
    if (more) page["_links"]["next"] = {{"href", href}};
    simdjson::dom::element doc;
    stash_.push_back(page.dump());
    EXPECT_EQ(parser.parse(stash_.back()).get(doc), simdjson::SUCCESS);
    return {200, doc, ""};
  }
  std::vector<std::string> stash_;
};

class ContextsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.page_limit = 3;
    for (int i = 0; i < 10; ++i) ctx_.add("u" + std::to_string(i), i % 3 == 0 ? "ios" : "");
    api_.post = [this](const ApiCall& c, simdjson::dom::parser& p) {
      EXPECT_EQ(c.target, "/api/v2/projects/p/environments/e/contexts/search");
      return ctx_.answer(c, p);
    };
    projects_ = {test::project("p", {"e"})};
  }
  std::unique_ptr<EntityStream> stream() { return make_contexts_stream(cfg_, ld_); }
  std::string id(const FakeContexts::Rec& r) { return "p/e/user/" + r.key + (r.app.empty() ? "" : "/" + r.app); }

  ContextsConfig cfg_;
  LaunchDarklyConfig ld_;
  FakeContexts ctx_;
  FakeApi api_;
  std::vector<ProjectInfo> projects_;
};

TEST_F(ContextsStreamTest, EveryContextOnceThenOnlyWhatWasSeenSince) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1);
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(a.all.size(), 10u);
  EXPECT_EQ(api_.requests, 4);  // 3+3+3+1, the last page has no next
  for (const auto& r : ctx_.recs) EXPECT_EQ(a.last.count(id(r)), 1u) << id(r);

  api_.requests = 0;
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2);
  EXPECT_EQ(a.all.size(), 10u) << "a steady state exports nothing";
  EXPECT_EQ(api_.requests, 1) << "and reads one (empty) page";

  ctx_.seen_again("u2");
  ctx_.add("u10");
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, 3);
  ASSERT_EQ(a.all.size(), 12u);
  EXPECT_EQ(a.all[10]["id"], "p/e/user/u2");  // seen again: exported again (append-style)
  EXPECT_EQ(a.all[11]["id"], "p/e/user/u10");
  EXPECT_EQ(a.all[10]["occurred_at"], "2025-01-01T00:00:00.011Z");
}

TEST_F(ContextsStreamTest, RestartAfterAnyPageResumesWhereItStopped) {
  for (size_t k = 1; k < 4; ++k) {
    SCOPED_TRACE("crash after page " + std::to_string(k));
    Archive a;
    auto crashed = run_pass(*stream(), nullptr, projects_, api_, a, 1, k);
    ASSERT_FALSE(crashed.completed);
    EXPECT_EQ(a.all.size(), 3 * k);
    api_.requests = 0;
    auto resumed = run_pass(*stream(), crashed.final_cursor, projects_, api_, a, 2);
    ASSERT_TRUE(resumed.completed);
    EXPECT_EQ(a.all.size(), 10u) << "nothing twice, nothing lost";
    EXPECT_EQ(static_cast<size_t>(api_.requests), 4 - k);
  }
}

TEST_F(ContextsStreamTest, AnExpiredTokenRereadsFromTheStartAndSkipsWhatWasExported) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1);
  ctx_.expire_all();
  ctx_.seen_again("u4");
  ctx_.add("u11");
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2);
  ASSERT_TRUE(r2.completed);
  ASSERT_EQ(a.all.size(), 12u);
  EXPECT_EQ(a.all[10]["id"], "p/e/user/u4");
  EXPECT_EQ(a.all[11]["id"], "p/e/user/u11");
  EXPECT_TRUE(ctx_.bodies[4].contains("continuationToken"));
  EXPECT_FALSE(ctx_.bodies[5].contains("continuationToken")) << "the rescan starts without a token";
}

// A page may carry its token only in _links.next.href (the form the spec prefers): the
// walk reads on with it instead of ending after the first page of every environment.
TEST_F(ContextsStreamTest, ATokenOnlyInTheNextLinkStillReadsEveryPage) {
  ctx_.token_in = FakeContexts::TokenIn::kNextHref;
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1);
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(a.all.size(), 10u) << "every context, not only the first page";
  for (const auto& r : ctx_.recs) EXPECT_EQ(a.last.count(id(r)), 1u) << id(r);
  EXPECT_EQ(api_.requests, 4);
  EXPECT_EQ(ctx_.bodies[1]["continuationToken"], "t0-3") << "the href's token, percent-decoded";

  // Later passes go on from the saved token too.
  ctx_.add("u10");
  ctx_.add("u11");
  ctx_.add("u12");
  ctx_.add("u13");
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(a.all.size(), 14u);
  EXPECT_EQ(a.last.count("p/e/user/u13"), 1u);
}

// A page that says more follows but gives no token anywhere cannot be read on: the pass
// fails (retryable, naming the environment) instead of silently skipping the rest.
TEST_F(ContextsStreamTest, MoreWithoutAnyTokenFailsLoudly) {
  ctx_.token_in = FakeContexts::TokenIn::kNowhere;
  auto s = stream();
  auto pass = s->begin_pass(nullptr, projects_, 1);
  ASSERT_TRUE(pass.is_ok());
  PassStep step = pass.value()->next();
  ASSERT_EQ(step.kind, PassStep::Kind::kCall);
  StepOutput out;
  Status st = pass.value()->on_answer(step.call, api_.answer(step.call), 1, out);
  ASSERT_FALSE(st.is_ok()) << "a walk that cannot continue must not end quietly";
  EXPECT_EQ(st.error_class(), ErrorClass::kRetryable);
  EXPECT_NE(st.message().find("p/e"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("continuationToken"), std::string::npos) << st.message();
}

// A loop in one environment must not cost the others their contexts. The looping token
// is saved in the cursor, so every later pass starts from it and meets the loop again:
// the contexts after it are not exported while LaunchDarkly keeps handing it back, the
// warning says so on every pass, and the pass that finds it fixed reads on.
TEST_F(ContextsStreamTest, ATokenLoopMovesOnToTheNextEnvironmentAndSaysSo) {
  ctx_.fixed_token = "t0-3";  // the token of page 1, handed back again by page 2
  FakeContexts other;         // environment f: no loop
  for (int i = 0; i < 10; ++i) other.add("f" + std::to_string(i));
  api_.post = [this, &other](const ApiCall& c, simdjson::dom::parser& p) {
    if (c.target == "/api/v2/projects/p/environments/f/contexts/search") return other.answer(c, p);
    EXPECT_EQ(c.target, "/api/v2/projects/p/environments/e/contexts/search");
    return ctx_.answer(c, p);
  };
  projects_ = {test::project("p", {"e", "f"})};
  auto log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  const auto loop_warnings = [&log] {
    std::vector<std::string> out;
    for (const auto& line : log->last_formatted()) {
      if (line.find("(a loop)") != std::string::npos) out.push_back(line);
    }
    return out;
  };
  spdlog::default_logger()->sinks().push_back(log);
  struct PopSink {
    ~PopSink() { spdlog::default_logger()->sinks().pop_back(); }
  } pop_sink;

  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1);
  ASSERT_TRUE(r1.completed) << "a loop must not stall the stream";
  EXPECT_EQ(ctx_.bodies.size(), 2u) << "page 2 of e repeats page 1's token: no third request";
  EXPECT_EQ(other.bodies.size(), 4u) << "f is read to its end: 3+3+3+1";
  size_t from_e = 0;
  size_t from_f = 0;
  for (const auto& [rid, env] : a.last) (rid.starts_with("p/e/") ? from_e : from_f) += 1;
  EXPECT_EQ(from_e, 6u) << "e up to the loop";
  EXPECT_EQ(from_f, 10u) << "every context of f, despite the loop in e";
  for (const auto& r : other.recs) EXPECT_EQ(a.last.count("p/f/user/" + r.key), 1u) << r.key;
  auto w1 = loop_warnings();
  ASSERT_EQ(w1.size(), 1u) << "the loop is logged";
  EXPECT_NE(w1[0].find("the contexts of p/e after this point are not exported while LaunchDarkly keeps handing back "
                       "this token; the next pass tries again"),
            std::string::npos)
      << w1[0];
  EXPECT_EQ(w1[0].find("p/f"), std::string::npos) << w1[0];

  // The next pass starts e from the looping token (saved in the cursor), meets the loop
  // again, exports nothing new of e, says so again, and still reads f.
  log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  spdlog::default_logger()->sinks().back() = log;
  other.add("f10");
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2);
  ASSERT_TRUE(r2.completed);
  ASSERT_EQ(ctx_.bodies.size(), 3u) << "one request for e: its token comes back at once";
  EXPECT_EQ(ctx_.bodies[2]["continuationToken"], "t0-3") << "the retry starts from the looping token";
  EXPECT_EQ(a.all.size(), 17u) << "of e nothing (page 2 again), of f the new f10";
  EXPECT_EQ(a.all.back()["id"], "p/f/user/f10");
  auto w2 = loop_warnings();
  ASSERT_EQ(w2.size(), 1u) << "the loop is logged on every pass it happens";
  EXPECT_NE(w2[0].find("the contexts of p/e after this point are not exported"), std::string::npos) << w2[0];

  // Once LaunchDarkly stops handing the token back, the next pass reads e to its end.
  ctx_.fixed_token.clear();
  log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  spdlog::default_logger()->sinks().back() = log;
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, 3);
  ASSERT_TRUE(r3.completed);
  EXPECT_TRUE(loop_warnings().empty());
  for (const auto& r : ctx_.recs) EXPECT_EQ(a.last.count(id(r)), 1u) << id(r);
  EXPECT_EQ(a.all.size(), 21u) << "u6..u9, each once";
}

// Every pass re-reads the environment's last page (with the token that read it); admit()
// drops the contexts exported already, and an unreadable one on that page must not be
// dead-lettered again on every pass (README: "An unreadable record is dead-lettered once").
TEST_F(ContextsStreamTest, AnUnreadableContextOnTheLastPageIsDeadLetteredOnce) {
  // The last page carries no token (there is no next link), so every pass asks for it
  // again with the token that read it.
  ctx_.token_in = FakeContexts::TokenIn::kNextHref;
  ctx_.add_bad("nokey");  // the 11th record: alone on the last page (3+3+3+2)
  Archive a;
  nlohmann::json cursor;
  size_t dead = 0;
  for (int pass = 1; pass <= 3; ++pass) {
    SCOPED_TRACE("pass " + std::to_string(pass));
    auto r = run_pass(*stream(), cursor, projects_, api_, a, pass);
    ASSERT_TRUE(r.completed);
    dead += r.dead_letters.size();
    for (const auto& d : r.dead_letters) EXPECT_NE(d.raw.find("nokey"), std::string::npos) << d.raw;
    cursor = r.final_cursor;
  }
  EXPECT_EQ(dead, 1u) << "one unreadable context, one dead letter, however many passes re-read its page";
  EXPECT_EQ(a.all.size(), 10u);

  // Seen again (so changed: a newer lastSeen), it is dead-lettered again, once.
  ctx_.seen_again("nokey");
  auto r4 = run_pass(*stream(), cursor, projects_, api_, a, 4);
  auto r5 = run_pass(*stream(), r4.final_cursor, projects_, api_, a, 5);
  EXPECT_EQ(r4.dead_letters.size(), 1u);
  EXPECT_EQ(r5.dead_letters.size(), 0u);

  // A valid context after it on the same page is still exported, once.
  ctx_.add("u10");
  auto r6 = run_pass(*stream(), r5.final_cursor, projects_, api_, a, 6);
  auto r7 = run_pass(*stream(), r6.final_cursor, projects_, api_, a, 7);
  EXPECT_EQ(r6.dead_letters.size() + r7.dead_letters.size(), 0u);
  EXPECT_EQ(a.all.size(), 11u);
  EXPECT_EQ(a.last.count("p/e/user/u10"), 1u);
}

// An unreadable context holding a key value is dead-lettered with it redacted, once: the
// id it is remembered by is made from the record as read (unredacted), as in cursors
// committed before dead letters were redacted.
TEST_F(ContextsStreamTest, AnUnreadableContextIsDeadLetteredRedactedOnce) {
  const std::string sdk = "sdk-0a1b2c3d-4e5f-6789-abcd-ef0123456789";
  ctx_.token_in = FakeContexts::TokenIn::kNextHref;  // every pass re-reads the last page
  ctx_.add_bad(sdk);                                 // the 11th record: a context named by the key, without one
  const nlohmann::json as_read = {{"context", {{"kind", "user"}, {"name", sdk}}},
                                  {"lastSeen", FakeContexts::last_seen(11)}};
  Archive a;
  nlohmann::json cursor;
  size_t dead = 0;
  for (int pass = 1; pass <= 3; ++pass) {
    SCOPED_TRACE("pass " + std::to_string(pass));
    auto r = run_pass(*stream(), cursor, projects_, api_, a, pass);
    ASSERT_TRUE(r.completed);
    dead += r.dead_letters.size();
    for (const auto& d : r.dead_letters) {
      EXPECT_EQ(d.raw.find(sdk), std::string::npos) << d.raw;
      EXPECT_NE(d.raw.find(R"("name":"[REDACTED]")"), std::string::npos) << d.raw;
    }
    cursor = r.final_cursor;
  }
  EXPECT_EQ(dead, 1u);
  EXPECT_NE(cursor.dump().find("unreadable:" + content_fingerprint(as_read.dump())), std::string::npos)
      << cursor.dump();
}

// Without a readable lastSeen there is no position to remember it by: such a record is
// dead-lettered each time it is read (and it does not disturb the others).
TEST_F(ContextsStreamTest, AnUnreadableContextWithoutLastSeenIsDeadLetteredEachTimeItIsRead) {
  ctx_.token_in = FakeContexts::TokenIn::kNextHref;  // every pass re-reads the last page
  ctx_.add_bad("nolastseen", FakeContexts::Rec::Bad::kNoLastSeen);
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1);
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2);
  EXPECT_EQ(r1.dead_letters.size(), 1u);
  EXPECT_EQ(r2.dead_letters.size(), 1u);
  EXPECT_EQ(a.all.size(), 10u);
}

TEST(ContinuationTokenOfHref, ReadsThePercentDecodedParameter) {
  EXPECT_EQ(continuation_token_of_href("/api/v2/projects/p/environments/e/contexts?sort=ts&continuationToken=a%2Bb%3D&limit=5"),
            "a+b=");
  EXPECT_EQ(continuation_token_of_href("https://app.launchdarkly.com/x?continuationToken=QAGF+K#frag"), "QAGF+K");
  EXPECT_EQ(continuation_token_of_href("/x?xcontinuationToken=1&sort=ts"), std::nullopt);
  EXPECT_EQ(continuation_token_of_href("/x?continuationToken="), std::nullopt);
  EXPECT_EQ(continuation_token_of_href("/x"), std::nullopt);
}

TEST_F(ContextsStreamTest, CursorRoundTrips) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1);
  auto c = ContextsCursor::from_json(r1.final_cursor);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->to_json(), r1.final_cursor);
  EXPECT_TRUE(c->scopes["p/e"].last_seen_ns.has_value());
  EXPECT_FALSE(ContextsCursor::from_json(nlohmann::json{{"v", 2}}).is_ok());
}

TEST(ContextScopeCursor, AdmitsNewerAndUnseenTies) {
  ContextScopeCursor c;
  EXPECT_TRUE(c.admit("a", 10));
  EXPECT_FALSE(c.admit("a", 10));
  EXPECT_TRUE(c.admit("b", 10));  // a tie at the mark, not yet exported
  EXPECT_FALSE(c.admit("z", 9));
  EXPECT_TRUE(c.admit("a", 11));  // seen again later
  EXPECT_EQ(c.ids_at_last_seen, std::set<std::string>{"a"});
}

}  // namespace
}  // namespace ldx

namespace ldx {
namespace {

TEST(TokenLoopDetector, FindsShortAndLongLoopsWithoutFalseAlarms) {
  TokenLoopDetector d;
  // 100,000 distinct tokens, as a walk over five million contexts: never a loop.
  for (int i = 0; i < 100'000; ++i) {
    const std::string t = "tok-" + std::to_string(i);
    ASSERT_FALSE(d.seen(t)) << i;
    d.requested(t);
  }
  // A loop of every length is found, within about twice its length (Brent).
  for (int cycle : {1, 2, 63, 64, 65, 500, 5000}) {
    d.clear();
    int lead_in = 37;
    int steps = 0;
    bool found = false;
    for (; steps < lead_in + 4 * cycle + 200 && !found; ++steps) {
      const int pos = steps < lead_in ? steps : lead_in + (steps - lead_in) % cycle;
      const std::string t = "t" + std::to_string(pos);
      found = d.seen(t);
      if (!found) d.requested(t);
    }
    EXPECT_TRUE(found) << "cycle " << cycle;
    EXPECT_LE(steps, lead_in + 3 * cycle + 130) << "cycle " << cycle;
  }
}

}  // namespace
}  // namespace ldx
