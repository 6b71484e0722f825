// The entity streams' keys under `streams:`: defaults at each endpoint's maximum page
// size, every key read, bad values reported with file:line:column.
#include <gtest/gtest.h>

#include "config/config.h"
#include "registry.h"
#include "sources/contexts/contexts_source.h"
#include "sources/flags/flags_source.h"
#include "sources/members/members_source.h"
#include "sources/segments/segments_source.h"

namespace ldx {
namespace {

std::string with_streams(const std::string& streams) {
  return "launchdarkly: { base_url: https://app.launchdarkly.com, token: api-x, projects: [default, mobile-app],"
         " environments: [production] }\nstreams:\n" +
         streams + "sinks:\n  - { name: a, type: file, path: /tmp/x }\ncheckpoint: { type: file, path: /tmp/s }\n";
}

std::string all(const std::vector<std::string>& errs) {
  std::string s;
  for (const auto& e : errs) s += e + "\n";
  return s;
}

TEST(EntityStreamConfig, EveryStreamWithDefaults) {
  auto r = load_config_string(with_streams("  projects: {}\n  environments: {}\n  flags: {}\n  segments: {}\n"
                                           "  contexts: {}\n  members: {}\n  teams: {}\n  metrics: {}\n"
                                           "  experiments: { enabled: false }\n"),
                              "t.yaml", builtin_catalog());
  ASSERT_TRUE(r.config) << all(r.errors);
  EXPECT_EQ(r.config->streams.size(), 9u);
  EXPECT_EQ(r.config->launchdarkly.projects, (std::vector<std::string>{"default", "mobile-app"}));
  for (const auto& s : r.config->streams) {
    if (auto* f = dynamic_cast<FlagsConfig*>(s.get())) {
      EXPECT_EQ(f->page_limit, 100);
      EXPECT_FALSE(f->audit_refresh);
      EXPECT_EQ(f->full_every.count(), 3'600'000);
    }
    if (auto* c = dynamic_cast<ContextsConfig*>(s.get())) {
      EXPECT_EQ(c->page_limit, 50);
    }
    if (auto* m = dynamic_cast<MembersConfig*>(s.get())) {
      EXPECT_EQ(m->page_limit, 1000);
    }
    if (auto* g = dynamic_cast<SegmentsConfig*>(s.get())) {
      EXPECT_EQ(g->page_limit, 50);
    }
    if (s->stream == "experiments") {
      EXPECT_FALSE(s->enabled);
    }
  }
}

TEST(EntityStreamConfig, FlagsRefreshFromTheAuditLog) {
  auto r = load_config_string(
      with_streams("  flags: { interval: 1m, refresh: audit_log, full_every: 6h, lookback: 5m, page_limit: 50 }\n"),
      "t.yaml", builtin_catalog());
  ASSERT_TRUE(r.config) << all(r.errors);
  auto* f = dynamic_cast<FlagsConfig*>(r.config->streams[0].get());
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->audit_refresh);
  EXPECT_EQ(f->full_every.count(), 6 * 3'600'000);
  EXPECT_EQ(f->lookback.count(), 300'000);
  EXPECT_EQ(f->page_limit, 50);
  EXPECT_EQ(f->interval.count(), 60'000);
}

TEST(EntityStreamConfig, BadValuesAreReportedWhereTheyAre) {
  auto r = load_config_string(with_streams("  flags: { refresh: sometimes }\n  contexts: { page_limit: 51 }\n"
                                           "  segments: { full_evry: 1h }\n"),
                              "t.yaml", builtin_catalog());
  ASSERT_FALSE(r.config);
  const std::string e = all(r.errors);
  EXPECT_NE(e.find("t.yaml:3:21: streams.flags.refresh: expected full or audit_log, found 'sometimes'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("t.yaml:4:27: streams.contexts.page_limit: must be between 1 and 50, found 51"), std::string::npos)
      << e;
  EXPECT_NE(e.find("t.yaml:5:15: unknown key 'streams.segments.full_evry'"), std::string::npos) << e;
}

}  // namespace
}  // namespace ldx
