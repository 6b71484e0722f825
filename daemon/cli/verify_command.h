#pragma once
#include <string>
namespace ldx {
// `ldexport verify [--archive DIR | -c config]` (README "Tamper evidence"): recomputes
// every chained stream's hash chain in the archive and reports the first record that was
// changed, removed, inserted, duplicated or reordered, with file and line.
// With a config, each file sink's archive is verified up to its committed position and
// its last hash is compared with the chain head committed in the checkpoint.
// Exit codes: 0 intact, 1 not intact (or unreadable), 2 usage or config error.
int verify_command(const std::string& config_path, const std::string& archive_dir);
}  // namespace ldx
