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
