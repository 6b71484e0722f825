// The operations listener must stop whenever it is asked to: `ldexport once` with a sink
// that is down starts it and stops it again within a millisecond, and used to hang on
// exit now and then (httplib ignores a stop before its thread is listening).
#include "telemetry/status_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>

namespace ldx {
namespace {

StatusServer::Handlers handlers() {
  return {[] { return std::string("ldexport_up 1\n"); }, [] { return Status::ok(); }};
}

// Runs f, failing the test (and ending the binary: a thread stuck in accept() cannot be
// joined) if it has not returned within the limit.
template <typename F>
void within_seconds(int seconds, const char* what, F f) {
  auto done = std::async(std::launch::async, f);
  if (done.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
    std::fprintf(stderr, "%s did not return within %d s\n", what, seconds);
    std::abort();
  }
  done.get();
}

TEST(StatusServer, StopRightAfterStartAlwaysReturns) {
  within_seconds(120, "start() then stop() at once", [] {
    for (int i = 0; i < 300; ++i) {
      StatusServer s("127.0.0.1:0", handlers());
      auto port = s.start();
      ASSERT_TRUE(port.is_ok()) << port.status().message();
      s.stop();
    }
  });
}

TEST(StatusServer, ServesOnceStartReturnsAndStopsWhenDestroyed) {
  within_seconds(60, "serving and stopping", [] {
    StatusServer s("127.0.0.1:0", handlers());
    auto port = s.start();
    ASSERT_TRUE(port.is_ok()) << port.status().message();
    httplib::Client c("127.0.0.1", port.value());
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(5, 0);
    auto res = c.Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "ldexport_up 1\n");
    auto ready = c.Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
  });
}

// Two listeners on one port would split /metrics and /readyz between two processes:
// the second must be refused, whoever holds the port.
TEST(StatusServer, APortInUseIsRefused) {
  StatusServer first("127.0.0.1:0", handlers());
  auto port = first.start();
  ASSERT_TRUE(port.is_ok()) << port.status().message();
  StatusServer second("127.0.0.1:" + std::to_string(port.value()), handlers());
  auto again = second.start();
  ASSERT_FALSE(again.is_ok()) << "a second listener bound port " << port.value();
  EXPECT_NE(again.status().message().find("address in use"), std::string::npos) << again.status().message();
}

TEST(StatusServer, APortOutOfRangeIsAnError) {
  for (const char* listen : {"127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:80x", "127.0.0.1:"}) {
    StatusServer s(listen, handlers());
    auto r = s.start();
    ASSERT_FALSE(r.is_ok()) << listen << " was accepted";
    EXPECT_NE(r.status().message().find("0 to 65535"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace ldx
