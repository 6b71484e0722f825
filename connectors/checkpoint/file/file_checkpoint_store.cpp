#include "checkpoint/file/file_checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/time_util.h"

namespace ldx {

Status FileCheckpointStore::open() {
  if (auto s = ensure_dir(dir_); !s.is_ok()) return s;
  return lock_.acquire(dir_ / ".lock", "checkpoint directory");
}

namespace {
// The file's bytes; nullopt only when it does not exist. Any other failure is an error:
// taken for "nothing committed", it would make every sink discard its committed output.
Result<std::optional<std::string>> read_checkpoint_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return std::optional<std::string>{};
    const std::string msg = "cannot open checkpoint " + path.string() + ": " + std::strerror(err);
    // Out of descriptors or memory, or an I/O hiccup: worth another try. Anything else
    // (permissions, a directory in the way) needs an operator.
    if (err == EMFILE || err == ENFILE || err == ENOMEM || err == EIO || err == EINTR || err == EAGAIN) {
      return Status::retryable(msg);
    }
    return Status::fatal(msg);
  }
  std::string bytes;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      const std::string msg = "cannot read checkpoint " + path.string() + ": " + std::strerror(err);
      return err == EIO ? Status::retryable(msg) : Status::fatal(msg);
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(bytes));
}
}  // namespace

Result<std::optional<Checkpoint>> FileCheckpointStore::load(const std::string& stream) {
  auto path = file_for(stream);
  auto bytes = read_checkpoint_file(path);
  if (!bytes.is_ok()) return bytes.status();
  if (!bytes.value()) return std::optional<Checkpoint>{};
  nlohmann::json j = nlohmann::json::parse(*bytes.value(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::fatal("checkpoint " + path.string() + " is not valid JSON; move it aside or run 'ldexport checkpoints reset " + stream + "'");
  }
  if (j.value("format", 0) != kCheckpointFormat) {
    return Status::fatal("checkpoint " + path.string() + " has format " + j.value("format", nlohmann::json()).dump() +
                         "; this ldexport reads format " + std::to_string(kCheckpointFormat));
  }
  Checkpoint cp;
  cp.source_cursor = j.value("source", nlohmann::json());
  cp.sink_positions = j.value("sinks", nlohmann::json::object());
  cp.committed_at_ms = parse_rfc3339_ms(j.value("committed_at", "")).value_or(0);
  return std::optional<Checkpoint>(std::move(cp));
}

Status FileCheckpointStore::commit(const std::string& stream, const Checkpoint& cp) {
  nlohmann::json j{{"format", kCheckpointFormat},
                   {"stream", stream},
                   {"committed_at", format_rfc3339_ms(cp.committed_at_ms ? cp.committed_at_ms : wall_now_ms())},
                   {"source", cp.source_cursor},
                   {"sinks", cp.sink_positions}};
  return atomic_write_file(file_for(stream), j.dump());
}

Result<std::vector<std::string>> FileCheckpointStore::list_streams() {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    const std::string suffix = ".checkpoint.json";
    if (name.size() > suffix.size() && name.ends_with(suffix)) out.push_back(name.substr(0, name.size() - suffix.size()));
  }
  if (ec) return Status::fatal("cannot list checkpoint directory " + dir_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Status check_stream_name(const std::string& stream) {
  const bool plain = !stream.empty() && stream.size() <= 128 && stream.front() != '-' &&
                     std::all_of(stream.begin(), stream.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                              c == '-';
                     });
  if (plain) return Status::ok();
  return Status::fatal("'" + stream + "' is not a stream name (a stream name is a plain identifier: letters, digits, '_' and '-')");
}

Status FileCheckpointStore::reset(const std::string& stream) {
  if (auto st = check_stream_name(stream); !st.is_ok()) return st.with_context("cannot reset a checkpoint: ");
  std::error_code ec;
  std::filesystem::remove(file_for(stream), ec);
  if (ec) return Status::fatal("cannot remove checkpoint of " + stream + ": " + ec.message());
  return fsync_dir(dir_);
}

Result<std::unique_ptr<CheckpointStore>> FileCheckpointConfig::build() const {
  return std::unique_ptr<CheckpointStore>(std::make_unique<FileCheckpointStore>(path));
}

std::unique_ptr<CheckpointConfig> parse_file_checkpoint_config(ConfigNode& node) {
  auto c = std::make_unique<FileCheckpointConfig>();
  c->path = node.str("path", c->path);
  return c;
}

}  // namespace ldx
