#include "checkpoint/file/file_checkpoint_store.h"

#include <fstream>
#include <sstream>

#include "core/time_util.h"

namespace ldx {

Status FileCheckpointStore::open() {
  if (auto s = ensure_dir(dir_); !s.is_ok()) return s;
  return lock_.acquire(dir_ / ".lock", "checkpoint directory");
}

Result<std::optional<Checkpoint>> FileCheckpointStore::load(const std::string& stream) {
  auto path = file_for(stream);
  std::ifstream in(path);
  if (!in) return std::optional<Checkpoint>{};
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
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
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    const std::string suffix = ".checkpoint.json";
    if (name.size() > suffix.size() && name.ends_with(suffix)) out.push_back(name.substr(0, name.size() - suffix.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status FileCheckpointStore::reset(const std::string& stream) {
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
