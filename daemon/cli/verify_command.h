#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace ldx {

// The config for commands that call no LaunchDarkly API (verify, checkpoints): loaded as
// the exporter loads it, except that a missing token is no error. Problems are printed
// on stderr as `validate` prints them; null then.
std::unique_ptr<Config> load_config_without_token(const std::string& config_path);

// The checkpoint store for reading only: built but not opened, so it takes no lock (a
// running ldexport holds it) and creates nothing (a missing directory stays missing).
Result<std::unique_ptr<CheckpointStore>> build_store_for_reading(const Config& cfg);

// The streams that have a checkpoint. A file store whose directory does not exist has none.
Result<std::vector<std::string>> list_checkpointed_streams(const Config& cfg, CheckpointStore& store);

// `ldexport verify [--archive DIR | -c config]` (README "Tamper evidence"): recomputes
// every chained stream's hash chain in the archive and reports the first record that was
// changed, removed, inserted, duplicated or reordered, with file and line.
// With a config, each file sink's archive is verified up to its committed position and
// its last hash is compared with the chain head committed in the checkpoint.
// Exit codes: 0 intact, 1 not intact (or unreadable), 2 usage or config error.
int verify_command(const std::string& config_path, const std::string& archive_dir);
}  // namespace ldx
