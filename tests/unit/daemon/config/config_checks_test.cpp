// The loader's checks that `validate` must share with `once`/`run`: duplicate keys,
// ${VAR} references, header-safe tokens, bounded durations and sizes, the listen port,
// at least one enabled stream and one directory per locking component. Every error
// names file:line:column.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <string>

#include "config/config.h"
#include "config/config_node.h"
#include "registry.h"
#include "sinks/file/file_sink.h"

namespace ldx {
namespace {

LoadResult load(const std::string& yaml) { return load_config_string(yaml, "test.yaml", builtin_catalog()); }

std::string all(const std::vector<std::string>& errs) {
  std::string s;
  for (const auto& e : errs) s += e + "\n";
  return s;
}

bool has(const LoadResult& r, const std::string& text) { return all(r.errors).find(text) != std::string::npos; }

// A valid config; tests append or replace sections.
constexpr const char* kHead = R"(launchdarkly:
  base_url: https://app.launchdarkly.com
  token: api-abc
)";
constexpr const char* kRest = R"(streams:
  audit_log: { interval: 30s }
sinks:
  - { name: archive, type: file, path: /tmp/ldx-checks-archive }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)";

std::string valid() { return std::string(kHead) + kRest; }

// ---- 1. Duplicate keys ----

TEST(ConfigChecks, DuplicateKeysAreErrorsAtTheSecondKeyAtEveryLevel) {
  // The top level, the launchdarkly section, a stream's flow mapping, a sink in a list.
  auto r = load(R"(launchdarkly:
  base_url: https://app.launchdarkly.com
  token: wrong
  token: ${LD_API_TOKEN:-right}
streams:
  audit_log: { interval: 30s, interval: 1m }
sinks:
  - { name: archive, type: file, path: /tmp/a, path: /tmp/b }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
streams:
  flags: {}
)");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:4:3: duplicate key 'launchdarkly.token': already set at line 3, column 3")) << all(r.errors);
  EXPECT_TRUE(has(r, "test.yaml:6:31: duplicate key 'streams.audit_log.interval': already set at line 6, column 16"))
      << all(r.errors);
  EXPECT_TRUE(has(r, "test.yaml:8:48: duplicate key 'sinks[0].path': already set at line 8, column 34")) << all(r.errors);
  EXPECT_TRUE(has(r, "test.yaml:10:1: duplicate key 'streams': already set at line 5, column 1")) << all(r.errors);
  EXPECT_EQ(r.errors.size(), 4u) << all(r.errors);

  // Free-form maps too (a Kafka sink's librdkafka properties), and quoted keys.
  std::string y = valid();
  y.replace(y.find("checkpoint:"), 0,
            "  - { name: bus, type: kafka, brokers: k:9092,\n"
            "      properties: { linger.ms: '5', \"linger.ms\": '50' } }\n");
  r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:9:37: duplicate key 'sinks[1].properties.linger.ms': already set at line 9, column 21"))
      << all(r.errors);

  // The same key in different mappings is fine, and so are repeated list items.
  r = load(valid() + "dead_letter: { path: /tmp/ldx-checks-dl }\nlog: { level: info }\n");
  EXPECT_TRUE(r.config) << all(r.errors);
}

TEST(ConfigChecks, DuplicateKeysDoNotExpandAliases) {
  // An alias is one node: the keys of the mapping it names are not counted twice.
  auto r = load(std::string(kHead) + R"(x-common: &common { interval: 30s, jitter: 0s }
streams:
  audit_log: *common
  flags: *common
sinks:
  - { name: archive, type: file, path: /tmp/ldx-checks-archive }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  ASSERT_FALSE(r.config);  // x-common is an unknown key, nothing else
  EXPECT_EQ(all(r.errors), "test.yaml:4:1: unknown key 'x-common'\n");
}

// ---- 2. ${VAR} in lists ----

TEST(ConfigChecks, ListItemsAreInterpolated) {
  ::setenv("LDX_TEST_PROJ", "mobile-app", 1);
  ::unsetenv("LDX_TEST_UNSET");
  auto r = load(std::string(kHead) +
                "  projects: [\"${LDX_TEST_PROJ}\", \"web-${LDX_TEST_UNSET:-site}\", \"$${literal}\"]\n"
                "  environments:\n    - ${LDX_TEST_PROJ}-prod\n" +
                kRest);
  ASSERT_TRUE(r.config) << all(r.errors);
  EXPECT_EQ(r.config->launchdarkly.projects, (std::vector<std::string>{"mobile-app", "web-site", "${literal}"}));
  EXPECT_EQ(r.config->launchdarkly.environments, (std::vector<std::string>{"mobile-app-prod"}));

  r = load(std::string(kHead) + "  projects: [\"a\", \"${LDX_TEST_UNSET}\"]\n" + kRest);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:4:19: launchdarkly.projects[1]: environment variable LDX_TEST_UNSET is not set"))
      << all(r.errors);
  ::unsetenv("LDX_TEST_PROJ");
}

// ---- 3. Malformed references ----

TEST(ConfigChecks, MalformedReferenceIsAnErrorNamingIt) {
  ::setenv("LDX_TEST_TOKEN", "api-env", 1);
  std::string y = valid();
  y.replace(y.find("api-abc"), 7, "${LDX_TEST_TOKEN");
  auto r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:3:10: launchdarkly.token: malformed reference '${LDX_TEST_TOKEN': no closing '}'"))
      << all(r.errors);
  EXPECT_EQ(r.errors.size(), 1u) << all(r.errors);  // and not also "missing token"

  for (const char* bad : {"${}", "${LDX TEST}", "${1ABC}", "${A:=x}", "x${A:-${B}}"}) {
    std::string why;
    EXPECT_FALSE(interpolate_env(bad, why).has_value()) << bad;
    EXPECT_NE(why.find("malformed reference"), std::string::npos) << bad << ": " << why;
  }
  // What the README documents keeps working.
  std::string why;
  EXPECT_EQ(interpolate_env("$${LDX_TEST_TOKEN", why), "${LDX_TEST_TOKEN");
  EXPECT_EQ(interpolate_env("$${not closed", why), "${not closed");
  EXPECT_EQ(interpolate_env("a${LDX_TEST_TOKEN}b", why), "aapi-envb");
  EXPECT_EQ(interpolate_env("${LDX_TEST_UNSET_X:-dflt}", why), "dflt");
  EXPECT_EQ(interpolate_env("${LDX_TEST_UNSET_X:-}", why), "");
  EXPECT_EQ(interpolate_env("cost: $5 {x}", why), "cost: $5 {x}");
  EXPECT_FALSE(interpolate_env("${LDX_TEST_UNSET_X}", why).has_value());
  EXPECT_EQ(why, "environment variable LDX_TEST_UNSET_X is not set (use ${LDX_TEST_UNSET_X:-default} for a default)");
  ::unsetenv("LDX_TEST_TOKEN");
}

// ---- 4. Control characters in the token ----

TEST(ConfigChecks, TokenWithControlCharactersIsRejectedWithoutShowingIt) {
  ::setenv("LDX_TEST_TOKEN", "api-x\r\nX-Evil: 1", 1);
  std::string y = valid();
  y.replace(y.find("api-abc"), 7, "${LDX_TEST_TOKEN}");
  auto r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:3:10: launchdarkly.token: the token contains a control character")) << all(r.errors);
  EXPECT_FALSE(has(r, "api-x")) << all(r.errors);
  EXPECT_FALSE(has(r, "Evil")) << all(r.errors);

  y = valid();
  y.replace(y.find("api-abc"), 7, "\"api-y\\tz\"");  // a YAML escape: a tab
  r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "launchdarkly.token: the token contains a control character")) << all(r.errors);
  EXPECT_FALSE(has(r, "api-y")) << all(r.errors);

  // token_file: the trailing newline is stripped, anything inside is refused.
  const std::string file = ::testing::TempDir() + "ldx-token-" + std::to_string(::getpid());
  y = valid();
  y.replace(y.find("token: api-abc"), 14, "token_file: " + file);
  std::ofstream(file) << "api-x\r\nX-Evil: 1\n";
  r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:3:15: launchdarkly.token_file: the token in '" + file +
                         "' contains a control character"))
      << all(r.errors);
  EXPECT_FALSE(has(r, "api-x")) << all(r.errors);
  EXPECT_FALSE(has(r, "Evil")) << all(r.errors);
  std::ofstream(file) << "api-good\r\n";
  r = load(y);
  ASSERT_TRUE(r.config) << all(r.errors);
  EXPECT_EQ(r.config->launchdarkly.token, "api-good");
  ::unlink(file.c_str());
  ::unsetenv("LDX_TEST_TOKEN");
}

// ---- 5. Bounded durations and sizes ----

TEST(ConfigChecks, DurationsThatOverflowAreErrorsNotWrapped) {
  std::string y = valid();
  y.replace(y.find("interval: 30s"), 13, "interval: 1000000000y");
  auto r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(
      has(r, "test.yaml:5:26: streams.audit_log.interval: is longer than the maximum of 100y, found '1000000000y'"))
      << all(r.errors);
  EXPECT_FALSE(has(r, "at least")) << all(r.errors);

  y = valid();
  y.replace(y.find("path: /tmp/ldx-checks-archive"), 0, "retention: 99999999999999999999d, ");
  r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "sinks[0].retention: is longer than the maximum of 100y")) << all(r.errors);
}

TEST(ConfigChecks, SizesThatOverflowAreErrorsNotWrapped) {
  for (const char* bad : {"9999999999GiB", "99999999999999999999", "8589934592GiB", "9223372036854775808"}) {
    std::string y = valid();
    y.replace(y.find("path: /tmp/ldx-checks-archive"), 0, std::string("rotate_bytes: ") + bad + ", ");
    auto r = load(y);
    ASSERT_FALSE(r.config) << bad;
    EXPECT_TRUE(has(r, "test.yaml:7:48: sinks[0].rotate_bytes: is too large, found '" + std::string(bad) + "'"))
        << all(r.errors);
  }
  bool too_large = false;
  EXPECT_EQ(parse_size("9223372036854775807", &too_large), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(too_large);
  EXPECT_EQ(parse_size("8589934591GiB"), 8589934591LL << 30);
  EXPECT_FALSE(parse_size("8589934592GiB", &too_large).has_value());
  EXPECT_TRUE(too_large);
  EXPECT_FALSE(parse_size("64XiB", &too_large).has_value());
  EXPECT_FALSE(too_large);
}

TEST(ConfigChecks, HarmfullyShortDurationsHaveMinimums) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"log: { progress_interval: 0s }\n", "test.yaml:9:27: log.progress_interval: must be at least 1s, found '0s'"},
      {"log: { progress_interval: 999ms }\n", "log.progress_interval: must be at least 1s, found '999ms'"},
      {"shutdown_timeout: 0s\n", "test.yaml:9:19: shutdown_timeout: must be at least 1s, found '0s'"},
  };
  for (const auto& c : cases) {
    auto r = load(valid() + c.yaml);
    ASSERT_FALSE(r.config) << c.yaml;
    EXPECT_TRUE(has(r, c.error)) << all(r.errors);
  }
  const std::pair<std::string, std::string> ld_cases[] = {
      {"  connect_timeout: 0s\n", "test.yaml:4:20: launchdarkly.connect_timeout: must be at least 1s, found '0s'"},
      {"  request_timeout: 0ms\n", "launchdarkly.request_timeout: must be at least 1s, found '0ms'"},
      {"  retry_base: 0s\n", "launchdarkly.retry_base: must be at least 10ms, found '0s'"},
      {"  retry_base: 10s\n  retry_max: 2s\n",
       "test.yaml:5:14: launchdarkly.retry_max: retry_max (2s) must be at least retry_base (10s)"},
  };
  for (const auto& [yaml, error] : ld_cases) {
    auto r = load(std::string(kHead) + yaml + kRest);
    ASSERT_FALSE(r.config) << yaml;
    EXPECT_TRUE(has(r, error)) << all(r.errors);
  }
  std::string y = valid();
  y.replace(y.find("interval: 30s"), 13, "interval: 0s");
  auto r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:5:26: streams.audit_log.interval: must be at least 1s, found '0s'")) << all(r.errors);

  // What the examples, the e2e and chaos configs use stays valid.
  y = std::string(kHead) + "  connect_timeout: 2s\n  request_timeout: 10s\n  retry_base: 100ms\n  retry_max: 2s\n" +
      "streams:\n  audit_log: { interval: 1s, jitter: 0s, batch_wait: 0s }\n"
      "sinks:\n  - { name: archive, type: file, path: /tmp/ldx-checks-archive }\n"
      "checkpoint: { type: file, path: /tmp/ldx-checks-state }\n"
      "log: { level: info, format: json, progress_interval: 1s }\nshutdown_timeout: 1s\n";
  r = load(y);
  ASSERT_TRUE(r.config) << all(r.errors);
  EXPECT_EQ(r.config->streams[0]->jitter.count(), 0);
  EXPECT_EQ(r.config->log.progress_interval.count(), 1000);
  EXPECT_EQ(r.config->shutdown_timeout.count(), 1000);
}

// ---- 6. The listen port ----

TEST(ConfigChecks, ListenPortMustBeAPort) {
  for (const char* bad : {"127.0.0.1:99999", "127.0.0.1:65536", "0.0.0.0:99999999999999999999999"}) {
    auto r = load(valid() + "http: { listen: \"" + bad + "\" }\n");
    ASSERT_FALSE(r.config) << bad;
    EXPECT_TRUE(has(r, "test.yaml:9:17: http.listen: the port must be between 0 and 65535 (0 picks a free one), found '" +
                           std::string(bad) + "'"))
        << all(r.errors);
  }
  for (const char* good : {"127.0.0.1:0", "0.0.0.0:65535", "[::1]:9464"}) {
    auto r = load(valid() + "http: { listen: \"" + good + "\" }\n");
    ASSERT_TRUE(r.config) << good << "\n" << all(r.errors);
    EXPECT_EQ(r.config->http.listen, good);
  }
}

// ---- 7. What once/run refuse, validate refuses too ----

TEST(ConfigChecks, ANoStreamEnabledConfigIsInvalid) {
  auto r = load(std::string(kHead) + R"(streams: {}
sinks:
  - { name: archive, type: file, path: /tmp/ldx-checks-archive }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(all(r.errors), "test.yaml:4:10: streams: no stream is configured: enable at least one (e.g. audit_log: {})\n");

  r = load(std::string(kHead) + R"(streams:
  audit_log: { enabled: false }
  flags: { enabled: false }
sinks:
  - { name: archive, type: file, path: /tmp/ldx-checks-archive }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(all(r.errors), "test.yaml:5:3: streams: no stream is enabled: every stream has enabled: false\n");

  // One enabled stream is enough.
  r = load(std::string(kHead) + R"(streams:
  audit_log: { enabled: false }
  flags: {}
sinks:
  - { name: archive, type: file, path: /tmp/ldx-checks-archive }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  EXPECT_TRUE(r.config) << all(r.errors);
}

TEST(ConfigChecks, TwoLockingComponentsCannotShareADirectory) {
  // Two file sinks, written differently but the same directory.
  auto r = load(std::string(kHead) + R"(streams: { audit_log: {} }
sinks:
  - { name: a, type: file, path: /tmp/ldx-checks-same }
  - { name: b, type: file, path: /tmp//ldx-checks-same/./ }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(all(r.errors),
            "test.yaml:7:34: sinks[1].path: directory '/tmp//ldx-checks-same/./' is also used by sink 'a' (line 6): "
            "each file sink, dead_letter and the file checkpoint need a directory of their own\n");

  // A file sink and the dead-letter output (written first, reported at the later one).
  r = load(std::string(kHead) + R"(dead_letter: { path: /tmp/ldx-checks-same }
streams: { audit_log: {} }
sinks:
  - { name: archive, type: file, path: /tmp/ldx-checks-same }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:7:40: sinks[0].path: directory '/tmp/ldx-checks-same' is also used by dead_letter (line 4)"))
      << all(r.errors);
  EXPECT_EQ(r.errors.size(), 1u) << all(r.errors);

  // A file sink on the dead-letter output's default directory, and two sinks on the default.
  r = load(std::string(kHead) + R"(streams: { audit_log: {} }
sinks:
  - { name: archive, type: file, path: ./ldexport-dead-letter }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:6:40: sinks[0].path: directory './ldexport-dead-letter' is also used by dead_letter "
                     "(its default)"))
      << all(r.errors);
  r = load(std::string(kHead) + R"(streams: { audit_log: {} }
sinks:
  - { name: a, type: file }
  - { name: b, type: file }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:7:5: sinks[1].path: directory './ldexport-data' (the default) is also used by sink 'a'"))
      << all(r.errors);

  // The file checkpoint store locks its directory the same way.
  r = load(std::string(kHead) + R"(streams: { audit_log: {} }
sinks:
  - { name: archive, type: file, path: /tmp/ldx-checks-same }
checkpoint: { type: file, path: /tmp/ldx-checks-same }
)");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(has(r, "test.yaml:7:33: checkpoint.path: directory '/tmp/ldx-checks-same' is also used by sink 'archive'"))
      << all(r.errors);

  // Different directories, including nested ones, are fine.
  r = load(std::string(kHead) + R"(dead_letter: { path: /tmp/ldx-checks-a/dead }
streams: { audit_log: {} }
sinks:
  - { name: a, type: file, path: /tmp/ldx-checks-a }
  - { name: b, type: file, path: /tmp/ldx-checks-b }
checkpoint: { type: file, path: /tmp/ldx-checks-state }
)");
  EXPECT_TRUE(r.config) << all(r.errors);
}

// ---- 8. batch_bytes takes sizes ----

TEST(ConfigChecks, BatchBytesAcceptsSizeUnits) {
  for (const auto& [text, bytes] : std::vector<std::pair<std::string, size_t>>{
           {"4MiB", 4u << 20}, {"4194304", 4194304}, {"512KiB", 512u << 10}, {"1GiB", 1u << 30}, {"10MB", 10'000'000},
           {"1KiB", 1024}}) {
    std::string y = valid();
    y.replace(y.find("interval: 30s"), 13, "interval: 30s, batch_bytes: " + text);
    auto r = load(y);
    ASSERT_TRUE(r.config) << text << "\n" << all(r.errors);
    EXPECT_EQ(r.config->streams[0]->batch_bytes, bytes) << text;
  }
  for (const char* bad : {"512", "2GiB", "4 MiB", "lots"}) {
    std::string y = valid();
    y.replace(y.find("interval: 30s"), 13, std::string("interval: 30s, batch_bytes: ") + bad);
    auto r = load(y);
    ASSERT_FALSE(r.config) << bad;
    EXPECT_TRUE(has(r, "test.yaml:5:44: streams.audit_log.batch_bytes: ")) << all(r.errors);
  }
  std::string y = valid();
  y.replace(y.find("interval: 30s"), 13, "interval: 30s, batch_bytes: 2GiB");
  EXPECT_TRUE(has(load(y), "streams.audit_log.batch_bytes: must be between 1KiB and 1GiB, found '2GiB'"));
}

}  // namespace
}  // namespace ldx
