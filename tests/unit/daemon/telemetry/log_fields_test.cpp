// JSON log lines carry the stream, sink, request path and status of the work they are
// about (README "Logs"), set per thread by LogScope and restored when a scope ends.
#include "telemetry/log_fields.h"

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>
#include <string>
#include <thread>

#include "telemetry/logging.h"

namespace ldx {
namespace {

nlohmann::json line(std::string_view msg = "hello") {
  std::string out;
  format_json_log_line(out, 1764000000123, "info", msg);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line per event";
  return nlohmann::json::parse(out);
}

TEST(LogFields, LineWithoutScopeHasOnlyTimeLevelMsg) {
  const auto j = line("a \"quoted\"\nmessage");
  EXPECT_EQ(j, nlohmann::json({{"time", "2025-11-24T16:00:00.123Z"}, {"level", "info"},
                               {"msg", "a \"quoted\"\nmessage"}}));
}

TEST(LogFields, JsonLevelsAreNamedAsLogLevelNamesThem) {
  std::ostringstream text;
  spdlog::logger logger("json-level-test", std::make_shared<spdlog::sinks::ostream_sink_st>(text));
  logger.set_formatter(make_json_line_formatter());
  logger.set_level(spdlog::level::trace);
  logger.warn("w");
  logger.error("e");
  logger.info("i");
  std::istringstream lines(text.str());
  std::vector<std::string> levels;
  for (std::string l; std::getline(lines, l);) levels.push_back(nlohmann::json::parse(l)["level"]);
  EXPECT_EQ(levels, (std::vector<std::string>{"warn", "error", "info"})) << "the names log.level accepts";
}

TEST(LogFields, ScopesAddFieldsAndNestedScopesRestoreThem) {
  {
    LogScope stream(LogField::kStream, "audit_log");
    EXPECT_EQ(line()["stream"], "audit_log");
    EXPECT_FALSE(line().contains("sink"));
    {
      LogScope sink(LogField::kSink, "warehouse");
      LogScope inner(LogField::kStream, "flags");
      const auto j = line();
      EXPECT_EQ(j["stream"], "flags");
      EXPECT_EQ(j["sink"], "warehouse");
    }
    const auto j = line();
    EXPECT_EQ(j["stream"], "audit_log") << "the outer value is back";
    EXPECT_FALSE(j.contains("sink")) << "unset again after its scope";
  }
  EXPECT_FALSE(line().contains("stream"));
}

TEST(LogFields, StatusIsANumberAndPathIsEscaped) {
  LogScope path(LogField::kPath, "/api/v2/flags/p?filter=\"x\"");
  LogScope status(LogField::kStatus, "503");
  const auto j = line();
  EXPECT_EQ(j["path"], "/api/v2/flags/p?filter=\"x\"");
  ASSERT_TRUE(j["status"].is_number_integer());
  EXPECT_EQ(j["status"], 503);
}

TEST(LogFields, AnErrorCarriesItsRequestThroughContext) {
  const Status st = Status::fatal("GET /api/v2/auditlog: LaunchDarkly answered 401")
                        .with_request("/api/v2/auditlog?limit=20", 401)
                        .with_context("stream audit_log: ");
  EXPECT_TRUE(st.is_fatal());
  EXPECT_EQ(st.message(), "stream audit_log: GET /api/v2/auditlog: LaunchDarkly answered 401");
  {
    LogScope request(st);
    const auto j = line();
    EXPECT_EQ(j["path"], "/api/v2/auditlog?limit=20");
    EXPECT_EQ(j["status"], 401);
  }
  EXPECT_FALSE(line().contains("path"));
  // An error with no request (a sink's) sets nothing.
  {
    LogScope none(Status::retryable("sink down"));
    EXPECT_FALSE(line().contains("path"));
    EXPECT_FALSE(line().contains("status"));
    EXPECT_FALSE(line().contains("sink"));
  }
  // The stream and sink an error names (e.g. a sink failing a stream's recovery) are set
  // too, on whichever thread logs it, and kept through context.
  {
    LogScope named(Status::retryable("down").with_sink("warehouse").with_stream("flags").with_context("x: "));
    const auto j = line();
    EXPECT_EQ(j["sink"], "warehouse");
    EXPECT_EQ(j["stream"], "flags");
  }
  EXPECT_FALSE(line().contains("sink"));
}

TEST(LogFields, FieldsBelongToTheirThread) {
  LogScope stream(LogField::kStream, "contexts");
  nlohmann::json other;
  std::thread t([&] { other = line(); });
  t.join();
  EXPECT_FALSE(other.contains("stream"));
  EXPECT_EQ(line()["stream"], "contexts");
}

}  // namespace
}  // namespace ldx
