// The local archive, the embedded default sink: JSONL files under <path>/<stream>/,
// named <stream>-<NNNNNN>.jsonl, rotated by size. A batch is acked only after
// fdatasync. Its position ({"file":N,"offset":BYTES}) is committed with the stream's
// cursor; on restart everything past that position (a torn line, or records that were
// written but never committed) is truncated away, so the replay adds no duplicate.
//
// Hash-chained streams (common/hash_chain.h) keep their chain across files; with
// `retention`, whole rotated files older than it are removed, and the chain manifest
// (chain_manifest.h) records where the kept archive continues the chain, so
// `ldexport verify` still passes (README "Retention and pruning").
#pragma once

#include <optional>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "common/durable_file.h"
#include "config/config.h"
#include "core/interfaces.h"
#include "sinks/file/chain_manifest.h"

namespace ldx {

struct FileSinkConfig final : SinkConfig {
  std::string path = "./ldexport-data";
  int64_t rotate_bytes = 128LL * 1024 * 1024;
  std::optional<Millis> retention;  // none: keep every file
  [[nodiscard]] Result<std::unique_ptr<Sink>> build(StopSignal& stop) const override;
};
std::unique_ptr<SinkConfig> parse_file_sink_config(ConfigNode& node);

class FileSink final : public Sink {
 public:
  FileSink(std::string name, std::filesystem::path root, int64_t rotate_bytes,
           std::optional<Millis> retention = std::nullopt);
  ~FileSink() override;
  [[nodiscard]] const std::string& name() const override { return name_; }
  Status open() override;
  Status recover(const std::string& stream, const nlohmann::json& committed_position) override;
  Result<nlohmann::json> write(const Batch& batch) override;
  Status close() override;

  static std::string file_name(const std::string& stream, uint64_t seq);

  // Removes whole rotated files whose newest record was observed more than `retention`
  // before `now_ms` (never the current file nor the one before it), after verifying
  // their chain and recording the prune in the chain manifest. Runs on start and after
  // each rotation; public for tests. A problem is logged, never fails a write.
  Status prune(const std::string& stream, int64_t now_ms);

 private:
  struct StreamFile {
    StreamFile() = default;
    StreamFile(const StreamFile&) = delete;
    StreamFile& operator=(const StreamFile&) = delete;
    ~StreamFile();  // closes fd: recover() replaces the stream's state after every failed pass
    std::filesystem::path dir;
    uint64_t seq = 1;
    int64_t offset = 0;
    int fd = -1;  // -1 after a failed open: write() opens the current file again
    ChainAnchor anchor;  // from the chain manifest
  };
  // create: O_CREAT (and fsync the directory); empty: the file must hold nothing yet
  // (a new file after rotation), so any stale bytes are cut.
  Status open_current(StreamFile& sf, bool create, bool empty = false);
  Status rotate(const std::string& stream, StreamFile& sf);
  StreamFile* state_for(const std::string& stream);
  Status prune_locked(const std::string& stream, StreamFile& sf, int64_t now_ms);
  Status anchor_if_mid_chain(const std::string& stream, StreamFile& sf, const Batch& batch);

  std::string name_;
  std::filesystem::path root_;
  int64_t rotate_bytes_;
  std::optional<Millis> retention_;
  DirLock lock_;
  std::mutex mu_;  // guards streams_ (each StreamFile is used by its stream's thread only)
  std::map<std::string, std::unique_ptr<StreamFile>> streams_;
};

}  // namespace ldx
