// The local archive, the embedded default sink: JSONL files under <path>/<stream>/,
// named <stream>-<NNNNNN>.jsonl, rotated by size. A batch is acked only after
// fdatasync. Its position ({"file":N,"offset":BYTES}) is committed with the stream's
// cursor; on restart everything past that position (a torn line, or records that were
// written but never committed) is truncated away, so the replay adds no duplicate.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "common/durable_file.h"
#include "config/config.h"
#include "core/interfaces.h"

namespace ldx {

struct FileSinkConfig final : SinkConfig {
  std::string path = "./ldexport-data";
  int64_t rotate_bytes = 128LL * 1024 * 1024;
  [[nodiscard]] Result<std::unique_ptr<Sink>> build(StopSignal& stop) const override;
};
std::unique_ptr<SinkConfig> parse_file_sink_config(ConfigNode& node);

class FileSink final : public Sink {
 public:
  FileSink(std::string name, std::filesystem::path root, int64_t rotate_bytes);
  ~FileSink() override;
  [[nodiscard]] const std::string& name() const override { return name_; }
  Status open() override;
  Status recover(const std::string& stream, const nlohmann::json& committed_position) override;
  Result<nlohmann::json> write(const Batch& batch) override;
  Status close() override;

  static std::string file_name(const std::string& stream, uint64_t seq);

 private:
  struct StreamFile {
    std::filesystem::path dir;
    uint64_t seq = 1;
    int64_t offset = 0;
    int fd = -1;
  };
  Status open_current(StreamFile& sf, bool create);
  Status rotate(const std::string& stream, StreamFile& sf);
  StreamFile* state_for(const std::string& stream);

  std::string name_;
  std::filesystem::path root_;
  int64_t rotate_bytes_;
  DirLock lock_;
  std::mutex mu_;  // guards streams_ (each StreamFile is used by its stream's thread only)
  std::map<std::string, std::unique_ptr<StreamFile>> streams_;
};

}  // namespace ldx
