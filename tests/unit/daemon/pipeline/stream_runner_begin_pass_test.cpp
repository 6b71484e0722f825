// An error from the source's begin_pass (e.g. a malformed committed cursor) names the
// stream, once, as an error from next_batch does.
#include <gtest/gtest.h>

#include "pipeline/stream_runner.h"

namespace ldx {
namespace {

class FailingBeginSource final : public Source {
 public:
  explicit FailingBeginSource(Status begin) : begin_(std::move(begin)) {}
  const std::string& stream() const override { return name_; }
  Status begin_pass(const nlohmann::json&) override { return begin_; }
  Result<std::optional<Batch>> next_batch() override {
    if (!next_.is_ok()) return next_;
    return std::optional<Batch>{};
  }
  uint64_t requests_this_pass() const override { return 0; }
  Status next_ = Status::ok();

 private:
  std::string name_ = "audit_log";
  Status begin_;
};

class NullSink final : public Sink {
 public:
  explicit NullSink(std::string n) : name_(std::move(n)) {}
  const std::string& name() const override { return name_; }
  Status open() override { return Status::ok(); }
  Status recover(const std::string&, const nlohmann::json&) override { return Status::ok(); }
  Result<nlohmann::json> write(const Batch&) override { return nlohmann::json(0); }
  Status close() override { return Status::ok(); }

 private:
  std::string name_;
};

class EmptyStore final : public CheckpointStore {
 public:
  Status open() override { return Status::ok(); }
  Result<std::optional<Checkpoint>> load(const std::string&) override { return std::optional<Checkpoint>{}; }
  Status commit(const std::string&, const Checkpoint&) override { return Status::ok(); }
  Result<std::vector<std::string>> list_streams() override { return std::vector<std::string>{}; }
  Status reset(const std::string&) override { return Status::ok(); }
};

struct NoBuildConfig final : StreamConfig {
  Result<std::unique_ptr<Source>> build(const SourceContext&) const override { return Status::fatal("unused"); }
};

Status run_one_pass(Status begin, Status next = Status::ok()) {
  NoBuildConfig cfg;
  cfg.stream = "audit_log";
  NullSink sink("archive"), dead(kDeadLetterSinkName);
  EmptyStore store;
  StopSignal stop;
  auto src = std::make_unique<FailingBeginSource>(std::move(begin));
  src->next_ = std::move(next);
  StreamRunner runner(cfg, std::move(src), std::vector<Sink*>{&sink}, &dead, store, stop);
  EXPECT_TRUE(runner.recover().is_ok());
  return runner.run_pass();
}

TEST(StreamRunnerBeginPass, ABeginPassErrorNamesTheStreamOnce) {
  Status st = run_one_pass(Status::fatal("audit_log cursor is malformed: window.lower: expected an integer"));
  EXPECT_TRUE(st.is_fatal());
  EXPECT_EQ(st.message(), "stream audit_log: audit_log cursor is malformed: window.lower: expected an integer");
  Status retry = run_one_pass(Status::retryable("discovery: HTTP 503"));
  EXPECT_TRUE(retry.is_retryable());
  EXPECT_EQ(retry.message(), "stream audit_log: discovery: HTTP 503");
}

TEST(StreamRunnerBeginPass, ANextBatchErrorIsPrefixedTheSameWay) {
  Status st = run_one_pass(Status::ok(), Status::retryable("GET /api/v2/auditlog: HTTP 503"));
  EXPECT_EQ(st.message(), "stream audit_log: GET /api/v2/auditlog: HTTP 503");
}

}  // namespace
}  // namespace ldx
