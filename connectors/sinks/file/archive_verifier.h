// Verifies a stream's archive against its hash chain (`ldexport verify`, README "Tamper
// evidence"): recomputes every record's hash, follows prev_hash from the chain manifest's
// anchor through every file, and reports the first record that was changed, removed,
// inserted, duplicated or reordered, with its file and line.
//
// It streams: one line in memory at a time, plus a bounded window of recent hashes
// (to recognise a duplicated or inserted record) and a bounded look-ahead after a break
// (to tell a reordering from a removal). A multi-gigabyte archive verifies in a few MB.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ldx {

// Where the file sink's committed position points: {"file": N, "offset": BYTES}.
struct ArchivePosition {
  uint64_t file = 1;
  int64_t offset = 0;
};

struct VerifyOptions {
  std::optional<ArchivePosition> stop_at;  // verify only the committed prefix
  std::optional<uint64_t> through_file;    // verify only the files up to this one (pruning)
  size_t window = 4096;                    // recent hashes kept / lines looked ahead after a break
};

struct ChainProblem {
  // changed, removed, inserted, duplicated, reordered, missing-file
  std::string kind;
  std::string file;   // relative to the archive root, e.g. audit_log/audit_log-000002.jsonl
  uint64_t line = 0;  // 1-based; 0 = the file as a whole
  std::string message;
};

struct StreamVerifyResult {
  std::string stream;
  uint64_t records = 0;  // records verified in the files kept
  uint64_t files = 0;
  uint64_t first_file = 0;
  uint64_t last_file = 0;
  uint64_t pruned_records = 0;  // as the chain manifest records
  uint64_t pruned_files = 0;
  std::string first_prev;  // what the oldest kept record continues from (genesis or the last pruned hash)
  std::string head;        // hash of the last verified record (first_prev when none)
  std::string newest_observed_at;  // observed_at of the last verified record
  std::optional<ChainProblem> problem;
  std::vector<std::string> notes;
  [[nodiscard]] bool intact() const { return !problem.has_value(); }
};

// Archive files of a stream, <stream>-NNNNNN.jsonl, by sequence number.
std::vector<uint64_t> list_archive_files(const std::filesystem::path& stream_dir, const std::string& stream);
// Stream directories under an archive root (names starting with '_' or '.' are not streams).
std::vector<std::string> list_archive_streams(const std::filesystem::path& root);

StreamVerifyResult verify_stream_chain(const std::filesystem::path& root, const std::string& stream,
                                       const VerifyOptions& opts = {});

// The last newline-terminated line of a file (without its newline; empty when none).
Result<std::string> read_last_line(const std::filesystem::path& file);

// Reads a file line by line through a fixed buffer, up to an optional byte limit.
class LineReader {
 public:
  explicit LineReader(const std::filesystem::path& path, int64_t limit = -1);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  [[nodiscard]] const std::string& error() const { return error_; }
  // The next line without its newline; `complete` is false for a last line that has none.
  // The view stays valid until the next call. False at the end (or on error()).
  bool next(std::string_view& line, bool& complete);

 private:
  int fd_ = -1;
  int64_t limit_;
  int64_t read_pos_ = 0;
  std::vector<char> buf_;
  size_t beg_ = 0;
  size_t end_ = 0;
  std::string carry_;
  bool carry_returned_ = false;
  std::string error_;
};

}  // namespace ldx
