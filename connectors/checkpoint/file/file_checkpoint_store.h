// File checkpoint store: one JSON file per stream under `path`, replaced atomically
// (temp file, fsync, rename, directory fsync). Format version 1:
//   {"format":1,"stream":"audit_log","committed_at":"...","source":{...},"sinks":{...}}
// A file of an unknown format is a fatal error, never silently ignored.
#pragma once

#include <filesystem>
#include <mutex>

#include "common/durable_file.h"
#include "config/config.h"
#include "core/interfaces.h"

namespace ldx {

inline constexpr int kCheckpointFormat = 1;

// A stream name a store accepts for reset: a plain identifier (ASCII letters, digits,
// '_' and '-', not starting with '-'), so that it can never reach outside the store
// (a path such as ../x, or an empty name). Otherwise a fatal error naming the name.
Status check_stream_name(const std::string& stream);

class FileCheckpointStore final : public CheckpointStore {
 public:
  explicit FileCheckpointStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Status open() override;
  Result<std::optional<Checkpoint>> load(const std::string& stream) override;
  Status commit(const std::string& stream, const Checkpoint& cp) override;
  Result<std::vector<std::string>> list_streams() override;
  Status reset(const std::string& stream) override;

 private:
  [[nodiscard]] std::filesystem::path file_for(const std::string& stream) const {
    return dir_ / (stream + ".checkpoint.json");
  }
  std::filesystem::path dir_;
  DirLock lock_;
};

struct FileCheckpointConfig final : CheckpointConfig {
  std::string path = "./ldexport-state";
  [[nodiscard]] Result<std::unique_ptr<CheckpointStore>> build() const override;
};
std::unique_ptr<CheckpointConfig> parse_file_checkpoint_config(ConfigNode& node);

}  // namespace ldx
