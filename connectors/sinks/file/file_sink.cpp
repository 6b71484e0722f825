#include "sinks/file/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/hash_chain.h"
#include "sinks/file/archive_verifier.h"

namespace ldx {

namespace {
std::string sys_err(const std::string& what, const std::filesystem::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}
nlohmann::json position_of(uint64_t seq, int64_t offset) { return {{"file", seq}, {"offset", offset}}; }

// As configured: "7y", "30d", else the generic form.
std::string retention_text(Millis d) {
  constexpr int64_t kDay = 86'400'000;
  if (d.count() % (365 * kDay) == 0) return std::to_string(d.count() / (365 * kDay)) + "y";
  if (d.count() % kDay == 0) return std::to_string(d.count() / kDay) + "d";
  return format_duration(d);
}
}  // namespace

std::string FileSink::file_name(const std::string& stream, uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%06llu.jsonl", static_cast<unsigned long long>(seq));
  return stream + buf;
}

FileSink::FileSink(std::string name, std::filesystem::path root, int64_t rotate_bytes, std::optional<Millis> retention)
    : name_(std::move(name)), root_(std::move(root)), rotate_bytes_(rotate_bytes), retention_(retention) {}

FileSink::~FileSink() { (void)close(); }

Status FileSink::open() {
  if (auto s = ensure_dir(root_); !s.is_ok()) return s;
  return lock_.acquire(root_ / ".lock", "archive directory");
}

FileSink::StreamFile* FileSink::state_for(const std::string& stream) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

FileSink::StreamFile::~StreamFile() {
  if (fd >= 0) ::close(fd);
}

Status FileSink::open_current(StreamFile& sf, bool create, bool empty) {
  if (sf.fd >= 0) ::close(sf.fd);
  auto p = sf.dir / file_name(sf.dir.filename().string(), sf.seq);
  sf.fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0) | (empty ? O_TRUNC : 0), 0644);
  if (sf.fd < 0) return Status::retryable(sys_err("cannot open archive file", p));
  if (create) return fsync_dir(sf.dir);
  return Status::ok();
}

Status FileSink::recover(const std::string& stream, const nlohmann::json& pos) {
  auto sf = std::make_unique<StreamFile>();
  sf->dir = root_ / stream;
  if (auto s = ensure_dir(sf->dir); !s.is_ok()) return s;
  uint64_t keep_seq = 1;
  int64_t keep_off = 0;
  if (pos.is_object()) {
    keep_seq = pos.value("file", uint64_t{1});
    keep_off = pos.value("offset", int64_t{0});
  }
  const auto manifest = chain_manifest_path(root_, stream);
  std::error_code ec;
  if (keep_seq == 1 && keep_off == 0) {
    // Nothing committed (first run, or `checkpoints reset`): the stream's archive starts
    // anew, and so does its chain manifest.
    if (std::filesystem::remove(manifest, ec)) {
      if (auto s = fsync_dir(manifest.parent_path()); !s.is_ok()) return s;
    }
    if (ec) return Status::fatal("cannot remove chain manifest " + manifest.string() + ": " + ec.message());
  } else {
    auto anchor = read_chain_manifest(manifest);
    if (!anchor.is_ok()) {
      if (anchor.status().is_retryable()) return anchor.status();
      return Status::fatal("chain manifest of stream " + stream + " is damaged, it was changed outside ldexport: " +
                           anchor.status().message());
    }
    sf->anchor = std::move(anchor.value());
    if (keep_seq < sf->anchor.first_file) {
      return Status::fatal("the checkpoint points into archive file " + file_name(stream, keep_seq) +
                           ", which the chain manifest records as pruned");
    }
  }
  // Remove files after the committed one: they hold only uncommitted records. Files the
  // manifest records as pruned are left only by an interrupted prune: finish it.
  std::filesystem::directory_iterator files(sf->dir, ec);
  for (; !ec && files != std::filesystem::directory_iterator(); files.increment(ec)) {
    const auto& e = *files;
    std::string fname = e.path().filename().string();
    unsigned long long seq = 0;
    std::string prefix = stream + "-";
    if (!fname.starts_with(prefix) || !fname.ends_with(".jsonl")) continue;
    if (std::sscanf(fname.c_str() + prefix.size(), "%llu", &seq) != 1) continue;
    if (seq > keep_seq || seq < sf->anchor.first_file) {
      std::filesystem::remove(e.path(), ec);
      if (ec) return Status::fatal("cannot remove uncommitted archive file " + e.path().string() + ": " + ec.message());
    }
  }
  // Unlisted, an uncommitted later file would survive, and the next rotation would write
  // over its first bytes.
  if (ec) return Status::retryable("cannot list archive directory " + sf->dir.string() + ": " + ec.message());
  sf->seq = keep_seq;
  auto p = sf->dir / file_name(stream, keep_seq);
  struct stat st {};
  bool exists = ::stat(p.c_str(), &st) == 0;
  if (exists && st.st_size < keep_off) {
    return Status::fatal("archive file " + p.string() + " is " + std::to_string(st.st_size) +
                         " bytes, shorter than its committed " + std::to_string(keep_off) +
                         " bytes: it was changed outside ldexport");
  }
  if (!exists && keep_off > 0) {
    return Status::fatal("archive file " + p.string() + " is missing but the checkpoint says it holds " +
                         std::to_string(keep_off) + " bytes");
  }
  if (auto s = open_current(*sf, true); !s.is_ok()) return s;
  if (::ftruncate(sf->fd, keep_off) != 0 || ::fsync(sf->fd) != 0)
    return Status::retryable(sys_err("cannot truncate archive file", p));
  sf->offset = keep_off;
  if (auto s = fsync_dir(sf->dir); !s.is_ok()) return s;
  if (auto s = prune_locked(stream, *sf, wall_now_ms()); !s.is_ok()) {
    spdlog::error("file sink {}: stream {}: {}", name_, stream, s.message());
  }
  std::lock_guard lock(mu_);
  streams_[stream] = std::move(sf);
  return Status::ok();
}

Status FileSink::prune(const std::string& stream, int64_t now_ms) {
  StreamFile* sf = state_for(stream);
  if (sf == nullptr) return Status::fatal("file sink " + name_ + ": stream " + stream + " was not recovered");
  return prune_locked(stream, *sf, now_ms);
}

Status FileSink::prune_locked(const std::string& stream, StreamFile& sf, int64_t now_ms) {
  if (!retention_) return Status::ok();
  const int64_t cutoff = now_ms - retention_->count();
  // Files are in time order: prune from the oldest while the newest record of each (its
  // last line) was observed before the cutoff. Never the current file nor the one before
  // it: the committed position may still point into it.
  uint64_t last = 0;
  std::string newest;
  for (uint64_t seq = sf.anchor.first_file; seq + 2 <= sf.seq; ++seq) {
    auto line = read_last_line(sf.dir / file_name(stream, seq));
    if (!line.is_ok()) return line.status();
    ChainedLine cl;
    std::string scratch;
    std::optional<int64_t> observed;
    if (read_chained_line(line.value(), cl, scratch, nullptr)) observed = parse_rfc3339_ms(cl.observed_at);
    if (!observed || *observed >= cutoff) break;
    last = seq;
    newest = cl.observed_at;
  }
  if (last == 0) return Status::ok();
  const uint64_t first = sf.anchor.first_file;
  uint64_t records = 0;
  std::string last_hash;
  if (stream_is_chained(stream)) {
    // Removing a damaged range would destroy the evidence: verify it first.
    VerifyOptions opts;
    opts.through_file = last;
    auto r = verify_stream_chain(root_, stream, opts);
    if (!r.intact()) {
      return Status::data_error("not pruning " + file_name(stream, first) + ".." + file_name(stream, last) +
                                ": the hash chain is broken at " + r.problem->file + ":" +
                                std::to_string(r.problem->line) + " (" + r.problem->message +
                                "); run 'ldexport verify'");
    }
    records = r.records;
    last_hash = r.head;
  } else {
    for (uint64_t seq = first; seq <= last; ++seq) {
      LineReader reader(sf.dir / file_name(stream, seq));
      std::string_view text;
      bool complete = true;
      while (reader.next(text, complete)) records += complete ? 1 : 0;
    }
  }
  nlohmann::json ev{{"event", "prune"},
                    {"stream", stream},
                    {"first_file", first},
                    {"last_file", last},
                    {"records", records},
                    {"first_prev_hash", sf.anchor.first_prev},
                    {"last_hash", last_hash},
                    {"newest_observed_at", newest},
                    {"retention", retention_text(*retention_)},
                    {"at", format_rfc3339_ms(now_ms)}};
  if (auto st = append_chain_manifest_event(chain_manifest_path(root_, stream), std::move(ev), sf.anchor);
      !st.is_ok()) {
    return st;
  }
  // The manifest is durable first: a crash from here on leaves files that recover()
  // removes and `verify` skips.
  for (uint64_t seq = first; seq <= last; ++seq) {
    std::error_code ec;
    std::filesystem::remove(sf.dir / file_name(stream, seq), ec);
    if (ec) return Status::retryable("cannot remove pruned archive file " + file_name(stream, seq) + ": " + ec.message());
  }
  if (auto st = fsync_dir(sf.dir); !st.is_ok()) return st;
  spdlog::info("file sink {}: stream {}: pruned {}..{} ({} records, newest observed {}) past retention {}", name_,
               stream, file_name(stream, first), file_name(stream, last), records, newest,
               retention_text(*retention_));
  return Status::ok();
}

Status FileSink::anchor_if_mid_chain(const std::string& stream, StreamFile& sf, const Batch& batch) {
  if (sf.seq != 1 || sf.offset != 0 || sf.anchor.events != 0 || batch.records.empty()) return Status::ok();
  const std::string& prev = batch.records.front().chain_prev;
  if (prev.empty() || prev == kChainGenesis) return Status::ok();
  // This archive begins after the stream's chain began (the sink was added later):
  // record where, so `verify` knows what the first record continues from.
  nlohmann::json ev{{"event", "start"}, {"stream", stream}, {"file", 1}, {"prev_hash", prev},
                    {"at", format_rfc3339_ms(wall_now_ms())}};
  if (auto st = append_chain_manifest_event(chain_manifest_path(root_, stream), std::move(ev), sf.anchor);
      !st.is_ok()) {
    return st.is_fatal() ? st : Status::retryable("file sink " + name_ + ": " + st.message());
  }
  spdlog::info("file sink {}: stream {}: the archive starts in the middle of the stream's hash chain (after {})", name_,
               stream, prev);
  return Status::ok();
}

Status FileSink::rotate(const std::string& stream, StreamFile& sf) {
  (void)stream;
  ++sf.seq;
  sf.offset = 0;
  return open_current(sf, true, true);
}

Result<nlohmann::json> FileSink::write(const Batch& batch) {
  StreamFile* sf = state_for(batch.stream);
  if (sf == nullptr) return Status::fatal("file sink " + name_ + ": stream " + batch.stream + " was not recovered");
  if (batch.records.empty()) return position_of(sf->seq, sf->offset);
  if (sf->fd < 0) {
    // The last open failed (a rotation out of descriptors or space): try again, and cut
    // anything past what was acked, as recover() would.
    if (auto s = open_current(*sf, true); !s.is_ok()) return s;
    if (::ftruncate(sf->fd, sf->offset) != 0) {
      return Status::retryable(sys_err("cannot truncate archive file", sf->dir / file_name(batch.stream, sf->seq)));
    }
  }
  bool rotated = false;
  if (sf->offset >= rotate_bytes_) {
    if (auto s = rotate(batch.stream, *sf); !s.is_ok()) return s;
    rotated = true;
  }
  if (auto s = anchor_if_mid_chain(batch.stream, *sf, batch); !s.is_ok()) return s;
  std::string buf;
  size_t total = 0;
  for (const auto& r : batch.records) total += r.envelope.size() + 1;
  buf.reserve(total);
  for (const auto& r : batch.records) {
    buf += r.envelope;
    buf.push_back('\n');
  }
  const int64_t start = sf->offset;
  auto fail = [&](const std::string& what) -> Status {
    Status s = Status::retryable("file sink " + name_ + ": " + what + ": " + std::strerror(errno));
    // Nothing of a failed batch may count: cut back to where it started.
    if (::ftruncate(sf->fd, start) != 0) {
      return Status::fatal("file sink " + name_ + ": cannot undo a failed write: " + std::strerror(errno));
    }
    return s;
  };
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = ::pwrite(sf->fd, buf.data() + off, buf.size() - off, start + static_cast<int64_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write failed");
    }
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(sf->fd) != 0) return fail("fdatasync failed");
  sf->offset = start + static_cast<int64_t>(buf.size());
  if (rotated) {
    if (auto s = prune_locked(batch.stream, *sf, wall_now_ms()); !s.is_ok()) {
      spdlog::error("file sink {}: stream {}: {}", name_, batch.stream, s.message());
    }
  }
  return position_of(sf->seq, sf->offset);
}

Status FileSink::close() {
  std::lock_guard lock(mu_);
  for (auto& [stream, sf] : streams_) {
    if (sf->fd >= 0) {
      ::close(sf->fd);
      sf->fd = -1;
    }
  }
  return Status::ok();
}

Result<std::unique_ptr<Sink>> FileSinkConfig::build(StopSignal& /*stop*/) const {
  return std::unique_ptr<Sink>(std::make_unique<FileSink>(name, path, rotate_bytes, retention));
}

std::unique_ptr<SinkConfig> parse_file_sink_config(ConfigNode& node) {
  auto c = std::make_unique<FileSinkConfig>();
  c->path = node.str("path", c->path);
  c->rotate_bytes = node.bytes("rotate_bytes", c->rotate_bytes);
  c->retention = node.opt_duration("retention");  // "7y" (a year is 365 days), or none
  if (c->retention && c->retention->count() <= 0) node.error_at("retention", "must be longer than 0, or none");
  return c;
}

}  // namespace ldx
