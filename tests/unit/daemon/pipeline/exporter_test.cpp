// Exporter::open reports what a failed start is about in Status::stream() and
// Status::sink(): the CLI's "cannot start" line takes its `stream` and `sink` fields
// from there (README "Logs"), not from the message.
#include "pipeline/exporter.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

namespace ldx {
namespace {

// How a test sink fails, if at all.
enum class SinkFault { kNone, kOpen, kRecover };

class TestSink final : public Sink {
 public:
  TestSink(std::string name, SinkFault fault) : name_(std::move(name)), fault_(fault) {}
  const std::string& name() const override { return name_; }
  Status open() override { return fault_ == SinkFault::kOpen ? Status::fatal("locked by another process") : Status::ok(); }
  Status recover(const std::string&, const nlohmann::json&) override {
    return fault_ == SinkFault::kRecover ? Status::fatal("archive file cut short") : Status::ok();
  }
  Result<nlohmann::json> write(const Batch&) override { return nlohmann::json(); }
  Status close() override { return Status::ok(); }

 private:
  std::string name_;
  SinkFault fault_;
};

struct TestSinkConfig final : SinkConfig {
  SinkFault fault = SinkFault::kNone;
  Result<std::unique_ptr<Sink>> build(StopSignal&) const override {
    return std::unique_ptr<Sink>(std::make_unique<TestSink>(name, fault));
  }
};

class EmptySource final : public Source {
 public:
  explicit EmptySource(std::string stream) : stream_(std::move(stream)) {}
  const std::string& stream() const override { return stream_; }
  Status begin_pass(const nlohmann::json&) override { return Status::ok(); }
  Result<std::optional<Batch>> next_batch() override { return std::optional<Batch>{}; }
  uint64_t requests_this_pass() const override { return 0; }

 private:
  std::string stream_;
};

struct TestStreamConfig final : StreamConfig {
  bool fail_build = false;
  Result<std::unique_ptr<Source>> build(const SourceContext&) const override {
    if (fail_build) return Status::fatal("no such project");
    return std::unique_ptr<Source>(std::make_unique<EmptySource>(stream));
  }
};

class EmptyStore final : public CheckpointStore {
 public:
  explicit EmptyStore(bool fail_open) : fail_open_(fail_open) {}
  Status open() override { return fail_open_ ? Status::fatal("cannot open the checkpoint directory") : Status::ok(); }
  Result<std::optional<Checkpoint>> load(const std::string&) override { return std::optional<Checkpoint>{}; }
  Status commit(const std::string&, const Checkpoint&) override { return Status::ok(); }
  Result<std::vector<std::string>> list_streams() override { return std::vector<std::string>{}; }
  Status reset(const std::string&) override { return Status::ok(); }

 private:
  bool fail_open_;
};

struct TestCheckpointConfig final : CheckpointConfig {
  bool fail_open = false;
  Result<std::unique_ptr<CheckpointStore>> build() const override {
    return std::unique_ptr<CheckpointStore>(std::make_unique<EmptyStore>(fail_open));
  }
};

class ExporterStartFailure : public ::testing::Test {
 protected:
  ExporterStartFailure() {
    std::string tmpl = ::testing::TempDir() + "ldx-exporter-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    cfg_.dead_letter_path = dir_ + "/dead";
    cfg_.http.enabled = false;
    cfg_.launchdarkly.base_url = "http://127.0.0.1:1";
    auto cp = std::make_unique<TestCheckpointConfig>();
    checkpoint_ = cp.get();
    cfg_.checkpoint = std::move(cp);
    add_sink("archive");
    add_sink("warehouse");
    add_stream("audit_log");
    add_stream("flags");
  }
  ~ExporterStartFailure() override { std::filesystem::remove_all(dir_); }

  TestSinkConfig& add_sink(const std::string& name) {
    auto sc = std::make_unique<TestSinkConfig>();
    sc->name = name;
    sc->type = "test";
    auto& ref = *sc;
    cfg_.sinks.push_back(std::move(sc));
    return ref;
  }
  TestStreamConfig& add_stream(const std::string& name) {
    auto sc = std::make_unique<TestStreamConfig>();
    sc->stream = name;
    auto& ref = *sc;
    cfg_.streams.push_back(std::move(sc));
    return ref;
  }
  TestSinkConfig& sink(size_t i) { return static_cast<TestSinkConfig&>(*cfg_.sinks[i]); }
  TestStreamConfig& stream(size_t i) { return static_cast<TestStreamConfig&>(*cfg_.streams[i]); }

  Status open() {
    Exporter exporter(cfg_, stop_);
    return exporter.open();
  }

  std::string dir_;
  Config cfg_;
  TestCheckpointConfig* checkpoint_ = nullptr;
  StopSignal stop_;
};

TEST_F(ExporterStartFailure, OpensWhenNothingFails) {
  Status st = open();
  EXPECT_TRUE(st.is_ok()) << st.describe();
}

// A failed start: what it names as its stream and sink, and its message (unchanged by
// the naming).
void expect_start_failure(const Status& st, const std::string& stream, const std::string& sink,
                          const std::string& message) {
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.stream(), stream);
  EXPECT_EQ(st.sink(), sink);
  EXPECT_EQ(st.message(), message);
}

TEST_F(ExporterStartFailure, ASinkThatCannotOpenIsNamedAsTheSink) {
  sink(1).fault = SinkFault::kOpen;
  expect_start_failure(open(), "", "warehouse", "sink warehouse: locked by another process");
}

TEST_F(ExporterStartFailure, ASourceThatCannotBeBuiltIsNamedAsTheStream) {
  stream(1).fail_build = true;
  expect_start_failure(open(), "flags", "", "stream flags: no such project");
}

TEST_F(ExporterStartFailure, ASinkThatCannotRecoverAStreamNamesBoth) {
  sink(0).fault = SinkFault::kRecover;
  expect_start_failure(open(), "audit_log", "archive", "stream audit_log, sink archive: archive file cut short");
}

TEST_F(ExporterStartFailure, TheCheckpointStoreNamesNeitherStreamNorSink) {
  checkpoint_->fail_open = true;
  expect_start_failure(open(), "", "", "checkpoint store: cannot open the checkpoint directory");
}

}  // namespace
}  // namespace ldx
