#include "checkpoint/file/file_checkpoint_store.h"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <vector>

namespace ldx {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ldx-ckpt-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(FileCheckpointStore, CommitLoadListReset) {
  TempDir tmp;
  FileCheckpointStore store(tmp.path);
  ASSERT_TRUE(store.open().is_ok());
  EXPECT_FALSE(store.load("audit_log").value().has_value());
  Checkpoint cp;
  cp.source_cursor = {{"v", 1}, {"high", 42}};
  cp.sink_positions = {{"archive", {{"file", 1}, {"offset", 100}}}};
  cp.committed_at_ms = 1764000000000;
  ASSERT_TRUE(store.commit("audit_log", cp).is_ok());
  auto back = store.load("audit_log").value();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->source_cursor, cp.source_cursor);
  EXPECT_EQ(back->sink_positions, cp.sink_positions);
  EXPECT_EQ(back->committed_at_ms, cp.committed_at_ms);
  EXPECT_EQ(store.list_streams().value(), std::vector<std::string>{"audit_log"});
  EXPECT_FALSE(fs::exists(tmp.path / "audit_log.checkpoint.json.tmp"));
  ASSERT_TRUE(store.reset("audit_log").is_ok());
  EXPECT_FALSE(store.load("audit_log").value().has_value());
}

// reset() is given a stream name; a name that is a path (or anything but a plain
// identifier) must never be joined onto the directory: `checkpoints reset ../../x`
// deleted ../../x.checkpoint.json outside the state directory.
TEST(FileCheckpointStore, ResetRefusesANameThatIsNotAPlainIdentifier) {
  TempDir tmp;
  fs::create_directories(tmp.path / "state");
  fs::create_directories(tmp.path / "victim");
  const fs::path victim = tmp.path / "victim" / "x.checkpoint.json";
  std::ofstream(victim) << "{}";
  FileCheckpointStore store(tmp.path / "state");
  ASSERT_TRUE(store.open().is_ok());
  for (const std::string bad : {"../victim/x", "../../x", "/etc/passwd", "", ".", "..", "a/b", "-x", "a b"}) {
    Status st = store.reset(bad);
    EXPECT_TRUE(st.is_fatal()) << "'" << bad << "' was accepted";
    EXPECT_NE(st.message().find("not a stream name"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(fs::exists(victim)) << "reset removed a file outside the checkpoint directory";
  EXPECT_TRUE(store.reset("audit_log").is_ok());
  EXPECT_TRUE(store.reset("feature-flags_2").is_ok());
}

// A checkpoint that exists but cannot be read must never look like "nothing committed":
// recover() would then have every sink discard its committed output (the archive
// truncated to nothing, the stream exported again from its start).
TEST(FileCheckpointStore, OutOfDescriptorsIsAnErrorNotAFirstRun) {
  TempDir tmp;
  FileCheckpointStore store(tmp.path);
  ASSERT_TRUE(store.open().is_ok());
  Checkpoint cp;
  cp.source_cursor = {{"high", 42}};
  ASSERT_TRUE(store.commit("audit_log", cp).is_ok());
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> held;
  for (int fd; (fd = ::dup(0)) >= 0;) held.push_back(fd);  // every descriptor taken
  auto r = store.load("audit_log");
  for (int fd : held) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_FALSE(r.is_ok()) << "an unreadable checkpoint was taken for no checkpoint";
  EXPECT_TRUE(r.status().is_retryable()) << r.status().message();
  EXPECT_NE(r.status().message().find("audit_log.checkpoint.json"), std::string::npos) << r.status().message();
  // Once descriptors are back, the committed cursor is read as it was.
  auto back = store.load("audit_log");
  ASSERT_TRUE(back.is_ok());
  ASSERT_TRUE(back.value());
  EXPECT_EQ(back.value()->source_cursor, cp.source_cursor);
}

TEST(FileCheckpointStore, AnUnreadableCheckpointIsFatal) {
  TempDir tmp;
  fs::create_directory(tmp.path / "audit_log.checkpoint.json");  // in the way, as root cannot be denied
  FileCheckpointStore store(tmp.path);
  ASSERT_TRUE(store.open().is_ok());
  auto r = store.load("audit_log");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_fatal());
  EXPECT_NE(r.status().message().find("cannot read checkpoint"), std::string::npos) << r.status().message();
}

TEST(FileCheckpointStore, UnknownFormatIsFatalNotIgnored) {
  TempDir tmp;
  std::ofstream(tmp.path / "audit_log.checkpoint.json") << R"({"format":2,"source":{}})";
  FileCheckpointStore store(tmp.path);
  ASSERT_TRUE(store.open().is_ok());
  auto r = store.load("audit_log");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_fatal());
  EXPECT_NE(r.status().message().find("format 2"), std::string::npos);
}

TEST(FileCheckpointStore, CorruptFileIsFatalWithAHint) {
  TempDir tmp;
  std::ofstream(tmp.path / "audit_log.checkpoint.json") << "{\"format\":1,";
  FileCheckpointStore store(tmp.path);
  ASSERT_TRUE(store.open().is_ok());
  auto r = store.load("audit_log");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("checkpoints reset audit_log"), std::string::npos);
}

TEST(FileCheckpointStore, LeftoverTempFileFromACrashIsIgnored) {
  TempDir tmp;
  FileCheckpointStore store(tmp.path);
  ASSERT_TRUE(store.open().is_ok());
  Checkpoint cp;
  cp.source_cursor = {{"v", 1}};
  ASSERT_TRUE(store.commit("s", cp).is_ok());
  std::ofstream(tmp.path / "s.checkpoint.json.tmp") << "{\"format\":1,\"sou";  // crash mid-write
  EXPECT_EQ(store.load("s").value()->source_cursor, cp.source_cursor);
}

}  // namespace
}  // namespace ldx
