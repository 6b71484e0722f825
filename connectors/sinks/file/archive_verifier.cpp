#include "sinks/file/archive_verifier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "common/hash_chain.h"
#include "sinks/file/chain_manifest.h"
#include "sinks/file/file_sink.h"

namespace ldx {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------
// LineReader

LineReader::LineReader(const fs::path& path, int64_t limit) : limit_(limit), buf_(1 << 20) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) error_ = "cannot open " + path.string() + ": " + std::strerror(errno);
}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool LineReader::next(std::string_view& line, bool& complete) {
  if (carry_returned_) {
    carry_.clear();
    carry_returned_ = false;
  }
  if (fd_ < 0) return false;
  while (true) {
    if (beg_ < end_) {
      const char* start = buf_.data() + beg_;
      const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - beg_));
      if (nl != nullptr) {
        const auto len = static_cast<size_t>(nl - start);
        if (carry_.empty()) {
          line = std::string_view(start, len);
        } else {
          carry_.append(start, len);
          line = carry_;
          carry_returned_ = true;
        }
        beg_ += len + 1;
        complete = true;
        return true;
      }
      carry_.append(start, end_ - beg_);
      beg_ = end_;
    }
    size_t want = buf_.size();
    if (limit_ >= 0) want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(want), limit_ - read_pos_));
    ssize_t n = 0;
    if (want > 0) {
      n = ::read(fd_, buf_.data(), want);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = std::string("read failed: ") + std::strerror(errno);
        return false;
      }
    }
    if (n == 0) {
      if (carry_.empty()) return false;
      line = carry_;
      carry_returned_ = true;
      complete = false;
      return true;
    }
    read_pos_ += n;
    beg_ = 0;
    end_ = static_cast<size_t>(n);
  }
}

Result<std::string> read_last_line(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::retryable("cannot open " + file.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::retryable("cannot stat " + file.string());
  }
  // Read backwards in growing chunks until the line before the last newline is whole.
  const int64_t size = st.st_size;
  std::string tail;
  int64_t from = size;
  int64_t last_nl = -1;  // offset of the last '\n' in the file
  while (from > 0) {
    const int64_t chunk = std::min<int64_t>(from, 64 * 1024);
    from -= chunk;
    std::string part(static_cast<size_t>(chunk), '\0');
    if (::pread(fd, part.data(), part.size(), from) != static_cast<ssize_t>(chunk)) {
      ::close(fd);
      return Status::retryable("cannot read " + file.string());
    }
    tail.insert(0, part);
    if (last_nl < 0) {
      const auto p = tail.rfind('\n');
      if (p == std::string::npos) continue;
      last_nl = from + static_cast<int64_t>(p);
    }
    const size_t rel_last = static_cast<size_t>(last_nl - from);
    const auto prev = rel_last == 0 ? std::string::npos : tail.rfind('\n', rel_last - 1);
    if (prev != std::string::npos) {
      ::close(fd);
      return tail.substr(prev + 1, rel_last - prev - 1);
    }
  }
  ::close(fd);
  if (last_nl < 0) return std::string();
  return tail.substr(0, static_cast<size_t>(last_nl));
}

// ---------------------------------------------------------------------------------
// Layout

std::vector<uint64_t> list_archive_files(const fs::path& stream_dir, const std::string& stream) {
  std::vector<uint64_t> out;
  std::error_code ec;
  const std::string prefix = stream + "-";
  for (const auto& e : fs::directory_iterator(stream_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(prefix) || !name.ends_with(".jsonl")) continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - 6);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.push_back(std::stoull(digits));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> list_archive_streams(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory(ec) || name.empty() || name[0] == '_' || name[0] == '.') continue;
    out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------------
// The chain walk

namespace {

struct Loc {
  size_t file = 0;  // index into the walker's file names
  uint64_t line = 0;
};

std::string short_hash(const std::string& h) { return h.size() > 12 ? h.substr(0, 12) + "..." : h; }

class ChainWalker {
 public:
  ChainWalker(std::string first_prev, size_t window, const std::vector<std::string>& files)
      : expected_prev_(std::move(first_prev)), window_(std::max<size_t>(window, 1)), files_(files) {
    head = expected_prev_;
  }

  // Checks the next line; false when the walk must stop (a problem was found).
  bool feed(std::string_view text, Loc loc) {
    if (pending_) return look_ahead(text, loc);
    std::string err;
    if (!read_chained_line(text, line_, scratch_, &err)) {
      return fail("changed", loc, "the line is not a valid JSON record (" + err + ")");
    }
    if (line_.hash.empty()) {
      return fail("changed", loc, "the record has no hash (its chain fields were removed, or it was not written by ldexport)");
    }
    if (line_.hash != line_.computed) return fail("changed", loc, "the record's content does not match its hash");
    if (line_.prev_hash != expected_prev_) {
      if (const Seen* s = find(line_.hash)) {
        return fail("duplicated", loc, "the record repeats " + where(s->loc));
      }
      if (const Seen* s = find(line_.prev_hash)) {
        const Seen& after = recent_[static_cast<size_t>(s->seq + 1 - recent_.front().seq)];
        return fail("inserted", after.loc,
                    "the record is not part of the chain: " + where(loc) + " follows " + where(s->loc) +
                        " directly, so the record(s) from here up to the line before " + where(loc) + " were inserted");
      }
      pending_ = true;
      pending_prev_ = line_.prev_hash;
      pending_loc_ = loc;
      looked_ = 0;
      return true;
    }
    expected_prev_ = line_.hash;
    head = line_.hash;
    newest_observed_at = line_.observed_at;
    ++records;
    remember(line_.hash, loc);
    return true;
  }

  // The data ended: a break still waiting for its predecessor is a removal.
  void finish() {
    if (pending_ && !problem) removed();
  }

  std::optional<ChainProblem> problem;
  uint64_t records = 0;
  std::string head;
  std::string newest_observed_at;

 private:
  struct Seen {
    std::string hash;
    Loc loc;
    uint64_t seq = 0;
  };

  std::string where(Loc l) const { return files_[l.file] + ":" + std::to_string(l.line); }

  bool fail(const std::string& kind, Loc loc, const std::string& msg) {
    problem = ChainProblem{kind, files_[loc.file], loc.line, kind + ": " + msg};
    return false;
  }

  bool look_ahead(std::string_view text, Loc loc) {
    if (read_chained_line(text, line_, scratch_, nullptr) && line_.computed == pending_prev_) {
      return fail("reordered", pending_loc_,
                  "the record comes before its predecessor, which is at " + where(loc) + " (records were swapped or moved)");
    }
    if (++looked_ >= window_) {
      removed();
      return false;
    }
    return true;
  }

  void removed() {
    pending_ = false;
    if (records == 0) {
      fail("removed", pending_loc_,
           "the first record does not continue the chain from " + short_hash(expected_prev_) +
               " (its prev_hash is " + short_hash(pending_prev_) +
               "): records before it were removed without being recorded as pruned");
    } else {
      fail("removed", pending_loc_,
           "the record(s) between this one and its predecessor are missing: its prev_hash " +
               short_hash(pending_prev_) + " is not the hash of the record before it (" + short_hash(expected_prev_) + ")");
    }
  }

  const Seen* find(const std::string& hash) const {
    auto it = by_hash_.find(hash);
    if (it == by_hash_.end()) return nullptr;
    return &recent_[static_cast<size_t>(it->second - recent_.front().seq)];
  }

  void remember(const std::string& hash, Loc loc) {
    recent_.push_back({hash, loc, seq_});
    by_hash_[hash] = seq_;
    ++seq_;
    if (recent_.size() > window_) {
      auto it = by_hash_.find(recent_.front().hash);
      if (it != by_hash_.end() && it->second == recent_.front().seq) by_hash_.erase(it);
      recent_.pop_front();
    }
  }

  std::string expected_prev_;
  size_t window_;
  const std::vector<std::string>& files_;
  ChainedLine line_;
  std::string scratch_;
  std::deque<Seen> recent_;
  std::unordered_map<std::string, uint64_t> by_hash_;
  uint64_t seq_ = 0;
  bool pending_ = false;
  std::string pending_prev_;
  Loc pending_loc_;
  size_t looked_ = 0;
};

}  // namespace

StreamVerifyResult verify_stream_chain(const fs::path& root, const std::string& stream, const VerifyOptions& opts) {
  StreamVerifyResult res;
  res.stream = stream;
  auto anchor = read_chain_manifest(chain_manifest_path(root, stream));
  if (!anchor.is_ok()) {
    res.problem = ChainProblem{"changed", "_chain/" + stream + ".jsonl", 0, "changed: " + anchor.status().message()};
    return res;
  }
  res.pruned_records = anchor->pruned_records;
  res.pruned_files = anchor->pruned_files;
  res.first_prev = anchor->first_prev;
  res.head = anchor->first_prev;

  const fs::path dir = root / stream;
  std::vector<uint64_t> seqs;
  for (uint64_t s : list_archive_files(dir, stream)) {
    if (s < anchor->first_file) {
      res.notes.push_back(FileSink::file_name(stream, s) +
                          " is recorded as pruned but still present (a prune was interrupted; ldexport removes it on "
                          "its next start): not verified");
      continue;
    }
    if (opts.through_file && s > *opts.through_file) continue;
    if (opts.stop_at && s > opts.stop_at->file) {
      res.notes.push_back(FileSink::file_name(stream, s) + " is past the committed position: not verified");
      continue;
    }
    seqs.push_back(s);
  }
  // A file missing between the anchor and the newest file (or the committed one) is
  // reported after the files before it are walked, so that a problem in those comes
  // first and the count says how many records before the gap are intact.
  std::optional<ChainProblem> gap;
  uint64_t expected = anchor->first_file;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] != expected) {
      gap = ChainProblem{"missing-file", stream + "/" + FileSink::file_name(stream, expected), 0,
                         "missing-file: " + FileSink::file_name(stream, expected) + " is missing (" +
                             (expected == anchor->first_file ? "the chain manifest says the archive starts there"
                                                             : "the files around it exist") +
                             "; it was not recorded as pruned)"};
      seqs.resize(i);
      break;
    }
    ++expected;
  }
  if (!gap && opts.stop_at && opts.stop_at->offset > 0 && (seqs.empty() || seqs.back() != opts.stop_at->file)) {
    gap = ChainProblem{"missing-file", stream + "/" + FileSink::file_name(stream, opts.stop_at->file), 0,
                       "missing-file: " + FileSink::file_name(stream, opts.stop_at->file) +
                           ", the file the checkpoint commits " + std::to_string(opts.stop_at->offset) +
                           " bytes in, is missing"};
  }
  std::vector<std::string> names;
  for (uint64_t s : seqs) names.push_back(stream + "/" + FileSink::file_name(stream, s));
  if (!seqs.empty()) {
    res.first_file = seqs.front();
    res.last_file = seqs.back();
  }
  res.files = seqs.size();

  ChainWalker walker(anchor->first_prev, opts.window, names);
  for (size_t i = 0; i < seqs.size() && !walker.problem; ++i) {
    const fs::path path = dir / FileSink::file_name(stream, seqs[i]);
    int64_t limit = -1;
    if (opts.stop_at && seqs[i] == opts.stop_at->file) {
      limit = opts.stop_at->offset;
      std::error_code ec;
      const auto size = static_cast<int64_t>(fs::file_size(path, ec));
      if (!ec && size < limit) {
        res.problem = ChainProblem{"removed", names[i], 0,
                                   "removed: the file is " + std::to_string(size) + " bytes, shorter than its committed " +
                                       std::to_string(limit) + " bytes"};
        res.records = walker.records;
        return res;
      }
      if (!ec && size > limit) {
        res.notes.push_back(names[i] + " holds " + std::to_string(size - limit) +
                            " bytes past the committed position (not yet committed): not verified");
      }
    }
    LineReader reader(path, limit);
    if (!reader.is_open()) {
      res.problem = ChainProblem{"missing-file", names[i], 0, "missing-file: " + reader.error()};
      res.records = walker.records;
      return res;
    }
    std::string_view text;
    bool complete = true;
    uint64_t n = 0;
    while (reader.next(text, complete)) {
      ++n;
      if (!complete) {
        if (limit >= 0) {
          res.problem = ChainProblem{"changed", names[i], n, "changed: the committed position does not end a line"};
          res.records = walker.records;
          return res;
        }
        if (i + 1 == seqs.size()) {
          res.notes.push_back(names[i] + ":" + std::to_string(n) +
                              " is incomplete (being written, or torn by a crash; ldexport truncates it on its next "
                              "start): not verified");
          break;
        }
        res.problem = ChainProblem{"changed", names[i], n, "changed: a rotated file ends in the middle of a line"};
        res.records = walker.records;
        return res;
      }
      if (!walker.feed(text, Loc{i, n})) break;
    }
    if (!reader.error().empty() && !walker.problem) {
      res.problem = ChainProblem{"changed", names[i], n, "cannot read: " + reader.error()};
      res.records = walker.records;
      return res;
    }
  }
  walker.finish();
  res.problem = walker.problem ? walker.problem : gap;
  res.records = walker.records;
  res.head = walker.head;
  res.newest_observed_at = walker.newest_observed_at;
  return res;
}

}  // namespace ldx
