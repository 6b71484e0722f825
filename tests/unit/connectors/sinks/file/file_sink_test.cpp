#include "sinks/file/file_sink.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ldx {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ldx-file-sink-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

Batch batch_of(const std::string& stream, int from, int n) {
  Batch b;
  b.stream = stream;
  for (int i = from; i < from + n; ++i) {
    Record r;
    r.stream = stream;
    r.id = "id-" + std::to_string(i);
    r.data = "{\"n\":" + std::to_string(i) + "}";
    r.observed_at_ms = 1;
    r.finish();
    b.records.push_back(std::move(r));
  }
  return b;
}

std::vector<std::string> read_lines(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> lines;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  return lines;
}

TEST(FileSink, WritesJsonlAndReportsPosition) {
  TempDir tmp;
  FileSink sink("archive", tmp.path, 1 << 20);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("audit_log", nullptr).is_ok());
  auto pos = sink.write(batch_of("audit_log", 0, 3));
  ASSERT_TRUE(pos.is_ok());
  EXPECT_EQ(pos.value()["file"], 1);
  auto lines = read_lines(tmp.path / "audit_log");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(pos.value()["offset"], lines[0].size() + lines[1].size() + lines[2].size() + 3);
  EXPECT_TRUE(fs::exists(tmp.path / "audit_log" / "audit_log-000001.jsonl"));
}

TEST(FileSink, RecoverTruncatesUncommittedAndTornOutput) {
  TempDir tmp;
  nlohmann::json committed;
  {
    FileSink sink("archive", tmp.path, 1 << 20);
    ASSERT_TRUE(sink.open().is_ok());
    ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
    committed = sink.write(batch_of("s", 0, 5)).value();
    ASSERT_TRUE(sink.write(batch_of("s", 5, 5)).is_ok());  // written, never committed
  }
  // A crash mid-write leaves a torn line.
  std::ofstream(tmp.path / "s" / "s-000001.jsonl", std::ios::app) << "{\"schema\":\"ldexp";
  FileSink sink("archive", tmp.path, 1 << 20);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("s", committed).is_ok());
  ASSERT_TRUE(sink.write(batch_of("s", 5, 5)).is_ok());  // the replay
  auto lines = read_lines(tmp.path / "s");
  ASSERT_EQ(lines.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(lines[static_cast<size_t>(i)].find("\"id\":\"id-" + std::to_string(i) + "\""), std::string::npos);
    EXPECT_TRUE(nlohmann::json::accept(lines[static_cast<size_t>(i)]));
  }
}

TEST(FileSink, RotatesBySizeAndRecoverRemovesLaterFiles) {
  TempDir tmp;
  nlohmann::json committed;
  {
    FileSink sink("archive", tmp.path, 300);
    ASSERT_TRUE(sink.open().is_ok());
    ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
    for (int i = 0; i < 4; ++i) committed = sink.write(batch_of("s", i * 3, 3)).value();
    for (int i = 4; i < 8; ++i) ASSERT_TRUE(sink.write(batch_of("s", i * 3, 3)).is_ok());
  }
  EXPECT_GT(committed["file"].get<int>(), 1);
  FileSink sink("archive", tmp.path, 300);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("s", committed).is_ok());
  EXPECT_EQ(read_lines(tmp.path / "s").size(), 12u);
  for (const auto& e : fs::directory_iterator(tmp.path / "s")) {
    int seq = std::stoi(e.path().filename().string().substr(2, 6));
    EXPECT_LE(seq, committed["file"].get<int>());
  }
}

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// recover() runs again after every failed pass: a long LaunchDarkly outage must not
// leak a descriptor per pass until the process runs out.
TEST(FileSink, RecoverAgainDoesNotLeakDescriptors) {
  TempDir tmp;
  FileSink sink("archive", tmp.path, 1 << 20);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
  auto committed = sink.write(batch_of("s", 0, 3)).value();
  const size_t before = open_descriptors();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(sink.recover("s", committed).is_ok());
  EXPECT_EQ(open_descriptors(), before);
  ASSERT_TRUE(sink.close().is_ok());
}

// A rotation whose new file cannot be created (out of space or descriptors; here a
// directory in its place) is a retryable error, and the retry succeeds once it can.
TEST(FileSink, ARotationThatCannotOpenItsFileIsRetriedNotFatal) {
  TempDir tmp;
  FileSink sink("archive", tmp.path, 300);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
  nlohmann::json pos;
  int n = 0;
  while (!fs::exists(tmp.path / "s" / "s-000002.jsonl") && n < 100) {
    pos = sink.write(batch_of("s", n, 1)).value();
    ++n;
    if (pos["offset"].get<int64_t>() >= 300) break;  // the next write rotates
  }
  ASSERT_EQ(pos["file"], 1);
  fs::create_directory(tmp.path / "s" / "s-000002.jsonl");
  auto failed = sink.write(batch_of("s", n, 2));
  ASSERT_FALSE(failed.is_ok());
  EXPECT_TRUE(failed.status().is_retryable()) << failed.status().message();
  fs::remove(tmp.path / "s" / "s-000002.jsonl");
  auto retried = sink.write(batch_of("s", n, 2));
  ASSERT_TRUE(retried.is_ok()) << retried.status().message();
  EXPECT_EQ(retried.value()["file"], 2);
  auto lines = read_lines(tmp.path / "s");
  ASSERT_EQ(lines.size(), static_cast<size_t>(n + 2));
  for (const auto& l : lines) EXPECT_TRUE(nlohmann::json::accept(l)) << l;
}

// A new file after rotation holds nothing yet: stale bytes at its name (a file an
// earlier recover() could not remove) are cut, not left behind the new lines.
TEST(FileSink, RotationStartsTheNewFileEmpty) {
  TempDir tmp;
  FileSink sink("archive", tmp.path, 300);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
  std::ofstream(tmp.path / "s" / "s-000002.jsonl") << std::string(5000, 'x') << "\n";
  int n = 0;
  while (n < 40) {
    auto pos = sink.write(batch_of("s", n, 1)).value();
    ++n;
    if (pos["file"] == 2) break;
  }
  ASSERT_LT(n, 40);
  auto lines = read_lines(tmp.path / "s");
  ASSERT_EQ(lines.size(), static_cast<size_t>(n));
  for (const auto& l : lines) EXPECT_TRUE(nlohmann::json::accept(l)) << l.substr(0, 80);
}

TEST(FileSink, NoCheckpointMeansStartFromEmpty) {
  TempDir tmp;
  {
    FileSink sink("archive", tmp.path, 1 << 20);
    ASSERT_TRUE(sink.open().is_ok());
    ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
    ASSERT_TRUE(sink.write(batch_of("s", 0, 4)).is_ok());
  }  // crashed before the first commit
  FileSink sink("archive", tmp.path, 1 << 20);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
  EXPECT_TRUE(read_lines(tmp.path / "s").empty());
}

TEST(FileSink, ArchiveShorterThanCommittedIsFatal) {
  TempDir tmp;
  nlohmann::json committed;
  {
    FileSink sink("archive", tmp.path, 1 << 20);
    ASSERT_TRUE(sink.open().is_ok());
    ASSERT_TRUE(sink.recover("s", nullptr).is_ok());
    committed = sink.write(batch_of("s", 0, 4)).value();
  }
  fs::resize_file(tmp.path / "s" / "s-000001.jsonl", 10);
  FileSink sink("archive", tmp.path, 1 << 20);
  ASSERT_TRUE(sink.open().is_ok());
  Status st = sink.recover("s", committed);
  EXPECT_TRUE(st.is_fatal());
  EXPECT_NE(st.message().find("changed outside ldexport"), std::string::npos);
}

TEST(FileSink, SecondProcessOnTheSameDirectoryIsRefused) {
  TempDir tmp;
  FileSink a("archive", tmp.path, 1 << 20);
  ASSERT_TRUE(a.open().is_ok());
  FileSink b("archive", tmp.path, 1 << 20);
  // flock is per open file description, so a second open in one process conflicts too.
  EXPECT_TRUE(b.open().is_fatal());
}

}  // namespace
}  // namespace ldx
