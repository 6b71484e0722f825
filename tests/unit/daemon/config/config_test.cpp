#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>

#include "registry.h"
#include "sources/audit_log/audit_log_source.h"
#include "sinks/file/file_sink.h"

namespace ldx {
namespace {

LoadResult load(const std::string& yaml) { return load_config_string(yaml, "test.yaml", builtin_catalog()); }

std::string all(const std::vector<std::string>& errs) {
  std::string s;
  for (const auto& e : errs) s += e + "\n";
  return s;
}

constexpr const char* kValid = R"(launchdarkly:
  base_url: https://app.eu.launchdarkly.com/
  token: api-abc
streams:
  audit_log: { interval: 30s, start: 2025-01-01T00:00:00Z, details: true, lookback: 2m }
sinks:
  - { name: archive, type: file, path: /tmp/x, rotate_bytes: 64MiB }
checkpoint: { type: file, path: /tmp/state }
)";

TEST(Config, LoadsTheDocumentedShape) {
  auto r = load(kValid);
  ASSERT_TRUE(r.config) << all(r.errors);
  EXPECT_EQ(r.config->launchdarkly.base_url, "https://app.eu.launchdarkly.com");
  ASSERT_EQ(r.config->streams.size(), 1u);
  auto* audit = dynamic_cast<AuditLogConfig*>(r.config->streams[0].get());
  ASSERT_NE(audit, nullptr);
  EXPECT_EQ(audit->interval.count(), 30'000);
  EXPECT_EQ(audit->start_ms, 1735689600000);
  EXPECT_TRUE(audit->details);
  EXPECT_EQ(audit->lookback.count(), 120'000);
  auto* file = dynamic_cast<FileSinkConfig*>(r.config->sinks[0].get());
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->rotate_bytes, 64LL * 1024 * 1024);
  EXPECT_EQ(file->name, "archive");
}

TEST(Config, UnknownKeyNamesFileLineColumn) {
  std::string y = kValid;
  y += "surprise: 1\n";
  auto r = load(y);
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u) << all(r.errors);
  EXPECT_EQ(r.errors[0], "test.yaml:9:1: unknown key 'surprise'");
}

TEST(Config, EveryProblemIsReportedWithItsLocation) {
  auto r = load(R"(launchdarkly:
  base_url: ftp://example.com
  tokn: x
streams:
  audit_log: { interval: soon, start: yesterday, details: maybe }
  flagz: {}
sinks:
  - { type: nosuch }
checkpoint: { type: file }
)");
  ASSERT_FALSE(r.config);
  std::string s = all(r.errors);
  EXPECT_NE(s.find("test.yaml:2:13: launchdarkly.base_url: must start with https://"), std::string::npos) << s;
  EXPECT_NE(s.find("missing token"), std::string::npos) << s;
  EXPECT_NE(s.find("test.yaml:3:3: unknown key 'launchdarkly.tokn'"), std::string::npos) << s;
  EXPECT_NE(s.find("test.yaml:5:26: streams.audit_log.interval: expected a duration"), std::string::npos) << s;
  EXPECT_NE(s.find("test.yaml:5:39: streams.audit_log.start: expected an RFC 3339 timestamp"), std::string::npos) << s;
  EXPECT_NE(s.find("streams.audit_log.details: expected true or false"), std::string::npos) << s;
  EXPECT_NE(s.find("test.yaml:6:10: streams.flagz: unknown stream"), std::string::npos) << s;
  EXPECT_NE(s.find("unknown stream 'flagz'"), std::string::npos) << s;
  EXPECT_NE(s.find("unknown sink type 'nosuch'"), std::string::npos) << s;
}

TEST(Config, WrongTypesAreErrors) {
  auto r = load(R"(launchdarkly: { base_url: https://x, token: t }
streams: { audit_log: { interval: [1, 2] } }
sinks: { name: a }
checkpoint: { type: file }
)");
  ASSERT_FALSE(r.config);
  std::string s = all(r.errors);
  EXPECT_NE(s.find("streams.audit_log.interval: expected a single value, found a list"), std::string::npos) << s;
  EXPECT_NE(s.find("test.yaml:3:8: sinks: expected a list"), std::string::npos) << s;
}

TEST(Config, TokenFromEnvironmentAndMissingVariableIsAnError) {
  ::setenv("LDX_TEST_TOKEN", "api-from-env", 1);
  std::string y = kValid;
  y.replace(y.find("api-abc"), 7, "${LDX_TEST_TOKEN}");
  auto r = load(y);
  ASSERT_TRUE(r.config) << all(r.errors);
  EXPECT_EQ(r.config->launchdarkly.token, "api-from-env");

  ::unsetenv("LDX_TEST_TOKEN");
  r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_NE(all(r.errors).find("test.yaml:3:10: launchdarkly.token: environment variable LDX_TEST_TOKEN is not set"),
            std::string::npos)
      << all(r.errors);
  // Defaults: ${VAR:-default}
  y.replace(y.find("${LDX_TEST_TOKEN}"), 17, "${LDX_TEST_TOKEN:-fallback}");
  r = load(y);
  ASSERT_TRUE(r.config) << all(r.errors);
  EXPECT_EQ(r.config->launchdarkly.token, "fallback");
}

TEST(Config, ErrorsNeverContainTheToken) {
  auto r = load(R"(launchdarkly: { base_url: https://x, token: api-secret-123, token_file: /nonexistent }
streams: { audit_log: {} }
sinks: [ { type: file } ]
checkpoint: { type: file }
)");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(all(r.errors).find("api-secret-123"), std::string::npos);
}

TEST(Config, AMissingOrDirectoryCaBundleIsAnErrorAtItsKey) {
  auto with_ca_bundle = [](const std::string& path) {
    std::string y = kValid;
    y.replace(y.find("  token: api-abc\n"), 0, "  ca_bundle: " + path + "\n");
    return load(y);
  };
  auto r = with_ca_bundle("/nonexistent/ca.pem");
  EXPECT_FALSE(r.config);
  EXPECT_NE(all(r.errors).find("test.yaml:3:14: launchdarkly.ca_bundle: cannot read CA bundle '/nonexistent/ca.pem'"),
            std::string::npos)
      << all(r.errors);

  r = with_ca_bundle("/tmp");
  EXPECT_FALSE(r.config);
  EXPECT_NE(all(r.errors).find("'/tmp' is a directory"), std::string::npos) << all(r.errors);

  const std::string pem = ::testing::TempDir() + "ldx-config-test-ca.pem";
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
  r = with_ca_bundle(pem);
  EXPECT_TRUE(r.config) << all(r.errors);
  std::remove(pem.c_str());
}

TEST(Config, YamlSyntaxErrorHasLocation) {
  auto r = load("launchdarkly: {\n  base_url: [\n");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("test.yaml:", 0), 0u) << r.errors[0];
  EXPECT_NE(r.errors[0].find("YAML syntax error"), std::string::npos);
}

TEST(Config, DuplicateSinkNamesAreRejected) {
  std::string y = kValid;
  y.replace(y.find("checkpoint:"), 0, "  - { name: archive, type: file, path: /tmp/y }\n");
  auto r = load(y);
  ASSERT_FALSE(r.config);
  EXPECT_NE(all(r.errors).find("sink name 'archive' is used twice"), std::string::npos) << all(r.errors);
}

TEST(Config, ShippedExamplesAreValid) {
  ::setenv("LD_API_TOKEN", "api-example", 1);
  for (const char* f : {"config/demo.yaml", "config/example.yaml"}) {
    auto r = load_config_file(std::string(LDX_SOURCE_DIR) + "/" + f, builtin_catalog());
    EXPECT_TRUE(r.config) << f << "\n" << all(r.errors);
  }
}

}  // namespace
}  // namespace ldx
