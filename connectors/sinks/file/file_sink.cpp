#include "sinks/file/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ldx {

namespace {
std::string sys_err(const std::string& what, const std::filesystem::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}
nlohmann::json position_of(uint64_t seq, int64_t offset) { return {{"file", seq}, {"offset", offset}}; }
}  // namespace

std::string FileSink::file_name(const std::string& stream, uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%06llu.jsonl", static_cast<unsigned long long>(seq));
  return stream + buf;
}

FileSink::FileSink(std::string name, std::filesystem::path root, int64_t rotate_bytes)
    : name_(std::move(name)), root_(std::move(root)), rotate_bytes_(rotate_bytes) {}

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

Status FileSink::open_current(StreamFile& sf, bool create) {
  if (sf.fd >= 0) ::close(sf.fd);
  auto p = sf.dir / file_name(sf.dir.filename().string(), sf.seq);
  sf.fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
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
  // Remove files after the committed one: they hold only uncommitted records.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(sf->dir, ec)) {
    std::string fname = e.path().filename().string();
    unsigned long long seq = 0;
    std::string prefix = stream + "-";
    if (!fname.starts_with(prefix) || !fname.ends_with(".jsonl")) continue;
    if (std::sscanf(fname.c_str() + prefix.size(), "%llu", &seq) != 1) continue;
    if (seq > keep_seq) {
      std::filesystem::remove(e.path(), ec);
      if (ec) return Status::fatal("cannot remove uncommitted archive file " + e.path().string() + ": " + ec.message());
    }
  }
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
  std::lock_guard lock(mu_);
  streams_[stream] = std::move(sf);
  return Status::ok();
}

Status FileSink::rotate(const std::string& stream, StreamFile& sf) {
  (void)stream;
  ++sf.seq;
  sf.offset = 0;
  return open_current(sf, true);
}

Result<nlohmann::json> FileSink::write(const Batch& batch) {
  StreamFile* sf = state_for(batch.stream);
  if (sf == nullptr) return Status::fatal("file sink " + name_ + ": stream " + batch.stream + " was not recovered");
  if (batch.records.empty()) return position_of(sf->seq, sf->offset);
  if (sf->offset >= rotate_bytes_) {
    if (auto s = rotate(batch.stream, *sf); !s.is_ok()) return s;
  }
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
  return std::unique_ptr<Sink>(std::make_unique<FileSink>(name, path, rotate_bytes));
}

std::unique_ptr<SinkConfig> parse_file_sink_config(ConfigNode& node) {
  auto c = std::make_unique<FileSinkConfig>();
  c->path = node.str("path", c->path);
  c->rotate_bytes = node.bytes("rotate_bytes", c->rotate_bytes);
  return c;
}

}  // namespace ldx
