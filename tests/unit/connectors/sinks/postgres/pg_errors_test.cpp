#include "sinks/postgres/pg_errors.h"

#include <gtest/gtest.h>

#include <pqxx/except>

namespace ldx::pg {
namespace {

TEST(PgErrors, ServerGoingAwayIsRetryable) {
  for (const char* s : {"08006", "08001", "57P01", "57P02", "57P03", "53300", "40001", "40P01", "55P03", "58030"}) {
    EXPECT_EQ(classify_sqlstate(s), ErrorClass::kRetryable) << s;
  }
  EXPECT_EQ(classify_sqlstate(""), ErrorClass::kRetryable);  // no SQLSTATE: the socket broke
}

TEST(PgErrors, ARefusedRowIsADataError) {
  // invalid_text_representation (bad JSON), untranslatable_character (a NUL escape in jsonb),
  // datetime_field_overflow, check_violation, not_null_violation, program_limit_exceeded
  for (const char* s : {"22P02", "22P05", "22008", "23514", "23502", "54000"}) {
    EXPECT_EQ(classify_sqlstate(s), ErrorClass::kDataError) << s;
  }
}

TEST(PgErrors, PermissionAndSchemaProblemsAreFatal) {
  for (const char* s : {"42501", "42P01", "42601", "3D000", "28P01", "XX000"}) {
    EXPECT_EQ(classify_sqlstate(s), ErrorClass::kFatal) << s;
  }
}

TEST(PgErrors, ConnectFailuresThatRetryingCannotFixAreFatal) {
  EXPECT_EQ(classify_connect_failure("FATAL:  password authentication failed for user \"x\""), ErrorClass::kFatal);
  EXPECT_EQ(classify_connect_failure("FATAL:  database \"nope\" does not exist"), ErrorClass::kFatal);
  EXPECT_EQ(classify_connect_failure("invalid connection option \"hots\""), ErrorClass::kFatal);
  EXPECT_EQ(classify_connect_failure("could not connect to server: Connection refused"), ErrorClass::kRetryable);
  EXPECT_EQ(classify_connect_failure("server closed the connection unexpectedly"), ErrorClass::kRetryable);
}

TEST(PgErrors, ExceptionsMapByTypeAndKeepTheContext) {
  Status lost = status_from_exception(pqxx::broken_connection("server closed the connection unexpectedly\n"), "sink x: ");
  EXPECT_TRUE(lost.is_retryable());
  EXPECT_EQ(lost.message().find('\n'), std::string::npos);
  EXPECT_EQ(lost.message().rfind("sink x: ", 0), 0u);

  EXPECT_TRUE(status_from_exception(pqxx::in_doubt_error("commit"), "").is_retryable());
  Status data = status_from_exception(pqxx::data_exception("bad json", "COPY", "22P02"), "");
  EXPECT_EQ(data.error_class(), ErrorClass::kDataError);
  EXPECT_NE(data.message().find("22P02"), std::string::npos);
  EXPECT_TRUE(status_from_exception(pqxx::insufficient_privilege("denied", "INSERT", "42501"), "").is_fatal());
  EXPECT_TRUE(status_from_exception(std::runtime_error("anything else"), "").is_fatal());
}

TEST(PgErrors, AConnectionLostInTheMiddleOfACopyIsRetryable) {
  // libpqxx 6.4's table writer wraps libpq's text in a plain pqxx::failure.
  Status copy = status_from_exception(
      pqxx::failure("Write to table failed: server closed the connection unexpectedly\n\tThis probably means the "
                    "server terminated abnormally\n"),
      "sink x: ");
  EXPECT_TRUE(copy.is_retryable()) << copy.describe();
  EXPECT_EQ(copy.message().find('\n'), std::string::npos);
  EXPECT_TRUE(status_from_exception(pqxx::failure("Error writing to table: no connection to the server"), "")
                  .is_retryable());
  // Any other failure of that kind is not understood: stop loudly rather than loop.
  EXPECT_TRUE(status_from_exception(pqxx::failure("Write to table failed: extra data after last expected column"), "")
                  .is_fatal());
}

}  // namespace
}  // namespace ldx::pg
