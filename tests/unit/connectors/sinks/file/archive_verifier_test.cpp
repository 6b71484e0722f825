// `ldexport verify`'s engine on a real archive written by the file sink: 100,000
// chained records over several rotated files, then each kind of tampering a compliance
// reviewer must be told about, at the right file and line.
#include "sinks/file/archive_verifier.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/hash_chain.h"
#include "core/time_util.h"
#include "sinks/file/chain_manifest.h"
#include "sinks/file/file_sink.h"

namespace ldx {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStream = "audit_log";
constexpr int64_t kDay = 86'400'000;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ldx-verify-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

Record audit_record(int64_t i, int64_t observed_at_ms) {
  Record r;
  r.stream = kStream;
  r.id = "entry-" + std::to_string(i);
  r.kind = "flag";
  r.project = "default";
  r.environment = i % 2 ? "production" : "test";
  r.occurred_at_ms = 1700000000000 + i * 1000;
  r.observed_at_ms = observed_at_ms;
  r.data = R"({"_id":"entry-)" + std::to_string(i) + R"(","date":)" + std::to_string(*r.occurred_at_ms) +
           R"(,"kind":"flag","name":"Flag )" + std::to_string(i % 97) +
           R"(","description":"Turned the flag on","member":{"email":"someone@example.com"},"accesses":[{"action":"updateOn","resource":"proj/default:env/production:flag/f"}]})";
  r.finish();
  return r;
}

// Writes `n` chained records through the sink as the pipeline does (chain, write,
// commit); returns the last committed checkpoint's sink positions.
nlohmann::json write_archive(FileSink& sink, nlohmann::json positions, int64_t from, int64_t n, int64_t batch,
                             int64_t observed_at_ms) {
  for (int64_t i = from; i < from + n; i += batch) {
    Batch b;
    b.stream = kStream;
    for (int64_t k = i; k < std::min(from + n, i + batch); ++k) b.records.push_back(audit_record(k, observed_at_ms));
    EXPECT_TRUE(apply_hash_chain(b, positions).is_ok());
    auto pos = sink.write(b);
    EXPECT_TRUE(pos.is_ok()) << pos.status().message();
    positions["archive"] = pos.value();
  }
  return positions;
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Replaces a (hard-linked) file with new content, leaving the original intact.
void rewrite(const fs::path& file, const std::vector<std::string>& lines) {
  fs::remove(file);
  std::ofstream out(file);
  for (const auto& l : lines) out << l << '\n';
}

fs::path archive_file(const fs::path& root, uint64_t seq) { return root / kStream / FileSink::file_name(kStream, seq); }

class ArchiveVerify : public ::testing::Test {
 protected:
  static constexpr int64_t kRecords = 100'000;

  static void SetUpTestSuite() {
    base_ = new TempDir();
    FileSink sink("archive", base_->path, 8 * 1024 * 1024);
    ASSERT_TRUE(sink.open().is_ok());
    ASSERT_TRUE(sink.recover(kStream, nullptr).is_ok());
    committed_ = new nlohmann::json(write_archive(sink, nlohmann::json::object(), 0, kRecords, 2000, 1764000000000));
    ASSERT_TRUE(sink.close().is_ok());
  }
  static void TearDownTestSuite() {
    delete base_;
    delete committed_;
  }

  // A private copy of the pristine archive (hard links: cheap; rewrite() unlinks).
  void SetUp() override {
    fs::copy(base_->path, tmp_.path / "a", fs::copy_options::recursive | fs::copy_options::create_hard_links);
    root_ = tmp_.path / "a";
    fs::remove(root_ / ".lock");
  }

  std::vector<uint64_t> files() const { return list_archive_files(root_ / kStream, kStream); }

  static TempDir* base_;
  static nlohmann::json* committed_;
  TempDir tmp_;
  fs::path root_;
};

TempDir* ArchiveVerify::base_ = nullptr;
nlohmann::json* ArchiveVerify::committed_ = nullptr;

TEST_F(ArchiveVerify, UntouchedArchiveOfOneHundredThousandRecordsIsIntact) {
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_TRUE(r.intact()) << r.problem->file << ":" << r.problem->line << ": " << r.problem->message;
  EXPECT_EQ(r.records, static_cast<uint64_t>(kRecords));
  EXPECT_GE(r.files, 3u) << "rotation should have spread the chain over several files";
  EXPECT_EQ(r.first_file, 1u);
  EXPECT_EQ(r.first_prev, kChainGenesis);
  EXPECT_EQ(r.head, (*committed_)[kChainPositionKey]["head"]);
  // Verifying the committed prefix gives the same head (what `verify -c` compares).
  VerifyOptions opts;
  opts.stop_at = ArchivePosition{(*committed_)["archive"]["file"], (*committed_)["archive"]["offset"]};
  auto c = verify_stream_chain(root_, kStream, opts);
  ASSERT_TRUE(c.intact());
  EXPECT_EQ(c.head, r.head);
}

TEST_F(ArchiveVerify, FindsAChangedByteAtItsLine) {
  const fs::path f = archive_file(root_, 2);
  auto lines = read_lines(f);
  ASSERT_GT(lines.size(), 5000u);
  // One byte inside the LaunchDarkly data: "Turned the flag on" -> "Turned the flag om".
  auto& l = lines[4321];
  const auto at = l.find("flag on");
  ASSERT_NE(at, std::string::npos);
  l[at + 6] = 'm';
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "changed");
  EXPECT_EQ(r.problem->file, "audit_log/audit_log-000002.jsonl");
  EXPECT_EQ(r.problem->line, 4322u);
}

TEST_F(ArchiveVerify, FindsAChangedHashOrPrevHash) {
  const fs::path f = archive_file(root_, 1);
  auto lines = read_lines(f);
  auto& l = lines[99];
  const auto at = l.find("\"prev_hash\":\"");
  ASSERT_NE(at, std::string::npos);
  char& c = l[at + 13];
  c = c == 'a' ? 'b' : 'a';
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "changed");
  EXPECT_EQ(r.problem->line, 100u);
}

TEST_F(ArchiveVerify, FindsADeletedLine) {
  const fs::path f = archive_file(root_, 3);
  auto lines = read_lines(f);
  lines.erase(lines.begin() + 777);
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "removed");
  EXPECT_EQ(r.problem->file, "audit_log/audit_log-000003.jsonl");
  EXPECT_EQ(r.problem->line, 778u) << "the record that now follows the gap";
}

TEST_F(ArchiveVerify, FindsADeletedLineAcrossARotation) {
  // The first record of a rotated file continues the previous file's chain.
  const fs::path f = archive_file(root_, 2);
  auto lines = read_lines(f);
  lines.erase(lines.begin());
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "removed");
  EXPECT_EQ(r.problem->file, "audit_log/audit_log-000002.jsonl");
  EXPECT_EQ(r.problem->line, 1u);
}

TEST_F(ArchiveVerify, FindsADuplicatedLine) {
  const fs::path f = archive_file(root_, 1);
  auto lines = read_lines(f);
  lines.insert(lines.begin() + 501, lines[500]);  // line 501 repeated as line 502
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "duplicated");
  EXPECT_EQ(r.problem->line, 502u);
  EXPECT_NE(r.problem->message.find("audit_log-000001.jsonl:501"), std::string::npos) << r.problem->message;
}

TEST_F(ArchiveVerify, FindsTwoSwappedLines) {
  const fs::path f = archive_file(root_, 2);
  auto lines = read_lines(f);
  std::swap(lines[1000], lines[1001]);
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "reordered") << r.problem->file << ":" << r.problem->line << ": " << r.problem->message;
  EXPECT_EQ(r.problem->file, "audit_log/audit_log-000002.jsonl");
  EXPECT_EQ(r.problem->line, 1001u);
  EXPECT_NE(r.problem->message.find("audit_log-000002.jsonl:1002"), std::string::npos) << r.problem->message;
}

TEST_F(ArchiveVerify, FindsARecordMovedFarAway) {
  const fs::path f = archive_file(root_, 2);
  auto lines = read_lines(f);
  const std::string moved = lines[10];
  lines.erase(lines.begin() + 10);
  lines.insert(lines.begin() + 300, moved);
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "reordered");
  EXPECT_EQ(r.problem->line, 11u);
}

TEST_F(ArchiveVerify, FindsAnInsertedRecordEvenWithAValidHash) {
  // A forger who knows the scheme writes a record that hashes correctly after line 200;
  // the next genuine record still points at line 200.
  const fs::path f = archive_file(root_, 1);
  auto lines = read_lines(f);
  auto prev = nlohmann::json::parse(lines[199]);
  Record forged = audit_record(999999, 1);
  forged.chain_prev = prev["hash"];
  forged.finish();
  forged.chain_hash = record_hash(forged.envelope).value();
  forged.finish();
  lines.insert(lines.begin() + 200, forged.envelope);
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "inserted");
  EXPECT_EQ(r.problem->line, 201u);
}

TEST_F(ArchiveVerify, FindsAMissingFileAndANonJsonLine) {
  fs::remove(archive_file(root_, 2));
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "missing-file");
  EXPECT_EQ(r.problem->file, "audit_log/audit_log-000002.jsonl");

  TempDir other;
  fs::copy(base_->path, other.path / "b", fs::copy_options::recursive | fs::copy_options::create_hard_links);
  const fs::path f = archive_file(other.path / "b", 1);
  auto lines = read_lines(f);
  lines[41] = lines[41].substr(0, lines[41].size() / 2);  // cut in half
  rewrite(f, lines);
  auto t = verify_stream_chain(other.path / "b", kStream);
  ASSERT_FALSE(t.intact());
  EXPECT_EQ(t.problem->kind, "changed");
  EXPECT_EQ(t.problem->line, 42u);
}

TEST_F(ArchiveVerify, RemovedTailIsCaughtAgainstTheCommittedHead) {
  // Dropping the newest records leaves a consistent chain; only the head committed with
  // the checkpoint (verify -c) or the file sink's committed offset tells.
  const auto seqs = files();
  const fs::path f = archive_file(root_, seqs.back());
  auto lines = read_lines(f);
  lines.pop_back();
  rewrite(f, lines);
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_TRUE(r.intact());
  EXPECT_NE(r.head, (*committed_)[kChainPositionKey]["head"]);
  VerifyOptions opts;
  opts.stop_at = ArchivePosition{(*committed_)["archive"]["file"], (*committed_)["archive"]["offset"]};
  auto c = verify_stream_chain(root_, kStream, opts);
  ASSERT_FALSE(c.intact());
  EXPECT_EQ(c.problem->kind, "removed");
}

TEST_F(ArchiveVerify, TornLastLineIsANoteNotATamper) {
  const auto seqs = files();
  std::ofstream(archive_file(root_, seqs.back()), std::ios::app) << "{\"schema\":\"ldexport.v1\",\"str";
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_TRUE(r.intact());
  EXPECT_EQ(r.records, static_cast<uint64_t>(kRecords));
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("incomplete"), std::string::npos);
}

// ---------------------------------------------------------------------------------
// Retention: pruning keeps `verify` passing and is itself tamper-evident.

struct SmallArchive {
  TempDir tmp;
  std::unique_ptr<FileSink> sink;
  nlohmann::json positions = nlohmann::json::object();
  int64_t next = 0;

  explicit SmallArchive(std::optional<Millis> retention) {
    sink = std::make_unique<FileSink>("archive", tmp.path, 20 * 1024, retention);
    EXPECT_TRUE(sink->open().is_ok());
    EXPECT_TRUE(sink->recover(kStream, nullptr).is_ok());
  }
  void add(int64_t n, int64_t observed_at_ms) {
    positions = write_archive(*sink, positions, next, n, 25, observed_at_ms);
    next += n;
  }
  // Closes and reopens the sink on the committed position (a restart).
  void restart(std::optional<Millis> retention) {
    (void)sink->close();
    sink.reset();
    sink = std::make_unique<FileSink>("archive", tmp.path, 20 * 1024, retention);
    EXPECT_TRUE(sink->open().is_ok());
    EXPECT_TRUE(sink->recover(kStream, positions["archive"]).is_ok());
  }
  [[nodiscard]] std::vector<uint64_t> files() const { return list_archive_files(tmp.path / kStream, kStream); }
};

TEST(ArchiveRetention, PruningOldFilesKeepsTheChainVerifiable) {
  const int64_t now = wall_now_ms();
  SmallArchive a{std::nullopt};
  a.add(1500, now - 3 * 365 * kDay);  // observed three years ago
  a.add(1500, now - 10 * kDay);       // recent
  const auto before = a.files();
  ASSERT_GE(before.size(), 6u);
  auto full = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_TRUE(full.intact());

  // Restarting with `retention: 365d` prunes on start.
  a.restart(Millis(365 * kDay));
  const auto after = a.files();
  ASSERT_LT(after.size(), before.size()) << "old files were pruned";
  EXPECT_GT(after.front(), 1u);
  auto r = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_TRUE(r.intact()) << r.problem->message;
  EXPECT_EQ(r.records + r.pruned_records, 3000u);
  EXPECT_EQ(r.pruned_files, after.front() - 1);
  EXPECT_EQ(r.head, full.head);
  EXPECT_NE(r.first_prev, kChainGenesis);
  // Only files whose newest record is older than the retention went: the oldest file
  // kept holds a recent record.
  auto last_of_oldest = read_lines(archive_file(a.tmp.path, after.front())).back();
  EXPECT_GT(parse_rfc3339_ms(nlohmann::json::parse(last_of_oldest)["observed_at"].get<std::string>()).value(),
            now - 365 * kDay);
  auto anchor = read_chain_manifest(chain_manifest_path(a.tmp.path, kStream));
  ASSERT_TRUE(anchor.is_ok());
  EXPECT_EQ(anchor->first_file, after.front());
  EXPECT_EQ(anchor->first_prev, r.first_prev);

  // Writing goes on (rotations prune as they happen), a later prune removes more, and
  // the chain still verifies.
  a.add(500, now);
  ASSERT_TRUE(a.sink->prune(kStream, now + 2 * 365 * kDay).is_ok());
  auto again = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_TRUE(again.intact()) << again.problem->message;
  EXPECT_EQ(again.records + again.pruned_records, 3500u);
  EXPECT_EQ(again.head, a.positions[kChainPositionKey]["head"]);
  EXPECT_EQ(a.files().size(), 2u) << "the current file and the one before it are always kept";

  // After a restart on the committed position the archive continues the same chain.
  a.restart(Millis(365 * kDay));
  a.add(100, now);
  auto restarted = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_TRUE(restarted.intact()) << restarted.problem->message;
  EXPECT_EQ(restarted.records + restarted.pruned_records, 3600u);
}

TEST(ArchiveRetention, NoRetentionNeverPrunesAndRecentFilesStay) {
  const int64_t now = wall_now_ms();
  SmallArchive keep{std::nullopt};
  keep.add(1000, 1);
  const auto n = keep.files().size();
  ASSERT_TRUE(keep.sink->prune(kStream, now).is_ok());
  EXPECT_EQ(keep.files().size(), n);

  SmallArchive young{Millis(7 * 365 * kDay)};
  young.add(1000, now - 6 * 365 * kDay);
  const auto m = young.files().size();
  ASSERT_TRUE(young.sink->prune(kStream, now).is_ok());
  EXPECT_EQ(young.files().size(), m);
}

// The kind printed is the kind README lists (`missing-file`), and the count is the
// records verified before the gap: every record of the files before the missing one.
TEST_F(ArchiveVerify, AMissingFileIsReportedAsMissingFileAfterTheRecordsBeforeIt) {
  const uint64_t in_first = read_lines(archive_file(root_, 1)).size();
  ASSERT_GT(in_first, 0u);
  fs::remove(archive_file(root_, 2));
  auto r = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "missing-file");
  EXPECT_EQ(r.problem->file, "audit_log/audit_log-000002.jsonl");
  EXPECT_TRUE(r.problem->message.starts_with("missing-file: ")) << r.problem->message;
  EXPECT_EQ(r.records, in_first);

  // A problem before the gap is the first problem.
  const fs::path f = archive_file(root_, 1);
  auto lines = read_lines(f);
  lines.erase(lines.begin() + 10);
  rewrite(f, lines);
  auto t = verify_stream_chain(root_, kStream);
  ASSERT_FALSE(t.intact());
  EXPECT_EQ(t.problem->kind, "removed");
  EXPECT_EQ(t.problem->line, 11u);
}

// `verify -c`: the file the checkpoint commits a position in is gone (the whole stream
// directory, or only that file).
TEST_F(ArchiveVerify, TheCommittedFileMissingIsMissingFile) {
  VerifyOptions opts;
  opts.stop_at = ArchivePosition{(*committed_)["archive"]["file"], (*committed_)["archive"]["offset"]};
  const uint64_t last = opts.stop_at->file;
  ASSERT_GT(last, 1u);
  uint64_t before = 0;
  for (uint64_t s = 1; s < last; ++s) before += read_lines(archive_file(root_, s)).size();
  fs::remove(archive_file(root_, last));
  auto r = verify_stream_chain(root_, kStream, opts);
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.problem->kind, "missing-file");
  EXPECT_EQ(r.problem->file, "audit_log/" + FileSink::file_name(kStream, last));
  EXPECT_TRUE(r.problem->message.starts_with("missing-file: ")) << r.problem->message;
  EXPECT_EQ(r.records, before);

  fs::remove_all(root_ / kStream);
  auto gone = verify_stream_chain(root_, kStream, opts);
  ASSERT_FALSE(gone.intact());
  EXPECT_EQ(gone.problem->kind, "missing-file");
  EXPECT_EQ(gone.records, 0u);
}

TEST(ArchiveRetention, PruningIsVisibleAndTamperingWithItIsCaught) {
  const int64_t now = wall_now_ms();
  SmallArchive a{std::nullopt};
  a.add(1500, 1);
  a.add(300, now);
  a.restart(Millis(kDay));
  const auto kept = a.files();
  ASSERT_GT(kept.front(), 1u);
  ASSERT_TRUE(verify_stream_chain(a.tmp.path, kStream).intact());

  // Removing the oldest kept file is not a prune: it is reported.
  const fs::path oldest = archive_file(a.tmp.path, kept.front());
  const fs::path aside = a.tmp.path / "aside.jsonl";
  fs::rename(oldest, aside);
  auto missing = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_FALSE(missing.intact());
  EXPECT_EQ(missing.problem->kind, "missing-file");
  fs::rename(aside, oldest);

  // Editing the manifest (e.g. to hide more removed records) breaks its own hash.
  const fs::path manifest = chain_manifest_path(a.tmp.path, kStream);
  auto lines = read_lines(manifest);
  ASSERT_EQ(lines.size(), 1u);
  auto ev = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(ev["event"], "prune");
  EXPECT_EQ(ev["first_file"], 1);
  EXPECT_EQ(ev["last_file"], kept.front() - 1);
  ev["records"] = ev["records"].get<int64_t>() + 5;
  rewrite(manifest, {ev.dump()});
  auto forged = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_FALSE(forged.intact());
  EXPECT_EQ(forged.problem->kind, "changed");
  EXPECT_NE(forged.problem->file.find("_chain"), std::string::npos);
}

TEST(ArchiveRetention, ABrokenRangeIsNeverPruned) {
  const int64_t now = wall_now_ms();
  SmallArchive a{std::nullopt};
  a.add(1500, 1);
  a.add(300, now);
  const auto before = a.files();
  const fs::path f = archive_file(a.tmp.path, 1);
  auto lines = read_lines(f);
  lines.erase(lines.begin() + 3);
  rewrite(f, lines);
  a.restart(Millis(kDay));  // the start-up prune logs and keeps everything
  EXPECT_EQ(a.files(), before);
  Status st = a.sink->prune(kStream, now);
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("audit_log-000001.jsonl:4"), std::string::npos) << st.message();
  EXPECT_EQ(a.files(), before) << "the evidence is kept";
}

TEST(ArchiveRetention, RestartFinishesAnInterruptedPrune) {
  const int64_t now = wall_now_ms();
  SmallArchive a{std::nullopt};
  a.add(1500, 1);
  a.add(300, now);
  // Keep a copy of file 1, prune, then put it back: as if the process died after the
  // manifest was written and before the file was removed.
  const fs::path f1 = archive_file(a.tmp.path, 1);
  const fs::path copy = a.tmp.path / "copy";
  fs::copy_file(f1, copy);
  a.restart(Millis(kDay));
  ASSERT_FALSE(fs::exists(f1));
  fs::rename(copy, f1);
  auto r = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_TRUE(r.intact());
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("recorded as pruned"), std::string::npos);
  a.restart(Millis(kDay));
  EXPECT_FALSE(fs::exists(f1));
  EXPECT_TRUE(verify_stream_chain(a.tmp.path, kStream).intact());
}

TEST(ArchiveRetention, ResetStartsTheArchiveAndItsManifestAnew) {
  const int64_t now = wall_now_ms();
  SmallArchive a{std::nullopt};
  a.add(1500, 1);
  a.add(300, now);
  a.restart(Millis(kDay));
  ASSERT_TRUE(fs::exists(chain_manifest_path(a.tmp.path, kStream)));
  // `checkpoints reset`: no committed position, and the pipeline's chain starts again.
  (void)a.sink->close();
  a.sink.reset();
  FileSink sink("archive", a.tmp.path, 20 * 1024, Millis(kDay));
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover(kStream, nullptr).is_ok());
  EXPECT_FALSE(fs::exists(chain_manifest_path(a.tmp.path, kStream)));
  write_archive(sink, nlohmann::json::object(), 0, 50, 25, now);
  auto r = verify_stream_chain(a.tmp.path, kStream);
  ASSERT_TRUE(r.intact()) << r.problem->message;
  EXPECT_EQ(r.records, 50u);
}

TEST(ArchiveChainStart, AnArchiveAddedLaterRecordsWhereItJoinsTheChain) {
  // The stream was already chained (e.g. into Postgres) when this archive was added.
  nlohmann::json positions = {{kChainPositionKey, {{"head", sha256_hex("earlier records")}}}};
  TempDir tmp;
  FileSink sink("archive", tmp.path, 1 << 20);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover(kStream, nullptr).is_ok());
  positions = write_archive(sink, positions, 0, 60, 20, 1);
  auto r = verify_stream_chain(tmp.path, kStream);
  ASSERT_TRUE(r.intact()) << r.problem->message;
  EXPECT_EQ(r.first_prev, sha256_hex("earlier records"));
  EXPECT_EQ(r.records, 60u);
  // Deleting its first line is still caught.
  auto lines = read_lines(archive_file(tmp.path, 1));
  lines.erase(lines.begin());
  rewrite(archive_file(tmp.path, 1), lines);
  auto cut = verify_stream_chain(tmp.path, kStream);
  ASSERT_FALSE(cut.intact());
  EXPECT_EQ(cut.problem->kind, "removed");
  EXPECT_EQ(cut.problem->line, 1u);
}

}  // namespace
}  // namespace ldx
