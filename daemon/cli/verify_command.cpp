#include "cli/verify_command.h"

#include <yaml-cpp/yaml.h>

#include <iostream>
#include <set>

#include "checkpoint/file/file_checkpoint_store.h"
#include "common/hash_chain.h"
#include "registry.h"
#include "sinks/file/archive_verifier.h"
#include "sinks/file/file_sink.h"

namespace ldx {

namespace {

namespace fs = std::filesystem;

constexpr int kExitIntact = 0;
constexpr int kExitBroken = 1;
constexpr int kExitInvalid = 2;

// What the checkpoint says about one stream of one file sink.
struct Committed {
  std::optional<ArchivePosition> position;
  std::string chain_head;  // empty: none committed
};

StreamVerifyResult verify_once_more_if_pruned_meanwhile(const fs::path& root, const std::string& stream,
                                                        const VerifyOptions& opts) {
  auto r = verify_stream_chain(root, stream, opts);
  // A running ldexport may prune between our reading the manifest and listing files.
  if (r.problem && r.problem->kind == "missing-file") r = verify_stream_chain(root, stream, opts);
  return r;
}

std::string file_range(const StreamVerifyResult& r) {
  if (r.files == 0) return "no files";
  if (r.files == 1) return FileSink::file_name(r.stream, r.first_file);
  return std::to_string(r.files) + " files " + FileSink::file_name(r.stream, r.first_file) + ".." +
         FileSink::file_name(r.stream, r.last_file);
}

// Verifies one stream and prints its verdict; true when intact.
bool verify_and_report(const fs::path& root, const std::string& label, const std::string& stream,
                       const Committed* committed) {
  if (!stream_is_chained(stream)) {
    // No chain to follow, but the file the checkpoint commits must still hold what it commits.
    if (committed != nullptr && committed->position && committed->position->offset > 0) {
      const std::string name = FileSink::file_name(stream, committed->position->file);
      std::error_code ec;
      const auto size = fs::file_size(root / stream / name, ec);
      if (ec) {
        std::cout << label << stream << ": NOT INTACT at " << stream << "/" << name << ": missing-file: " << name
                  << ", the file the checkpoint commits " << committed->position->offset << " bytes in, is missing\n";
        return false;
      }
      if (static_cast<int64_t>(size) < committed->position->offset) {
        std::cout << label << stream << ": NOT INTACT at " << stream << "/" << name << ": removed: the file is "
                  << size << " bytes, shorter than its committed " << committed->position->offset << " bytes\n";
        return false;
      }
    }
    std::cout << label << stream << ": not hash-chained: skipped\n";
    return true;
  }
  VerifyOptions opts;
  if (committed != nullptr && committed->position) opts.stop_at = committed->position;
  auto r = verify_once_more_if_pruned_meanwhile(root, stream, opts);
  if (!r.problem && committed != nullptr && committed->position && !committed->chain_head.empty() &&
      r.head != committed->chain_head) {
    r.problem = ChainProblem{"removed", stream + "/" + FileSink::file_name(stream, committed->position->file), 0,
                             "removed: the last committed record's hash " + r.head +
                                 " is not the chain head committed in the checkpoint (" + committed->chain_head +
                                 "): records at the end were removed or the chain was rewritten"};
  }
  if (r.problem) {
    std::cout << label << stream << ": NOT INTACT at " << r.problem->file;
    if (r.problem->line > 0) std::cout << ":" << r.problem->line;
    std::cout << ": " << r.problem->message << "\n";
    std::cout << "  " << r.records << " record(s) before it verified\n";
  } else {
    std::cout << label << stream << ": intact: " << r.records << " record(s) in " << file_range(r);
    if (r.pruned_files > 0) {
      std::cout << "; " << r.pruned_records << " record(s) in " << r.pruned_files
                << " file(s) pruned by retention, the chain continues from " << r.first_prev;
    }
    std::cout << "; head " << r.head;
    if (committed != nullptr && committed->position) std::cout << " (matches the checkpoint)";
    std::cout << "\n";
  }
  for (const auto& n : r.notes) std::cout << "  note: " << n << "\n";
  return !r.problem;
}

int verify_archive_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::cerr << "ldexport verify: " << dir.string() << " is not a directory\n";
    return kExitInvalid;
  }
  // Either the archive root (one directory per stream) or one stream's directory.
  fs::path root = dir;
  std::vector<std::string> streams = list_archive_streams(dir);
  const std::string base = fs::absolute(dir).lexically_normal().filename().string();
  if (!list_archive_files(dir, base).empty()) {
    root = fs::absolute(dir).lexically_normal().parent_path();
    streams = {base};
  }
  if (streams.empty()) {
    std::cerr << "ldexport verify: no stream directories under " << dir.string() << "\n";
    return kExitInvalid;
  }
  bool intact = true;
  for (const auto& s : streams) intact = verify_and_report(root, "", s, nullptr) && intact;
  std::cout << (intact ? "verify: intact\n" : "verify: NOT INTACT\n");
  return intact ? kExitIntact : kExitBroken;
}

}  // namespace

// The config as the exporter reads it, except that verify and checkpoints talk to no
// LaunchDarkly API: an auditor may run them without the token (e.g. ${LD_API_TOKEN}
// unset) or its CA bundle. Any other problem is reported as `validate` would.
std::unique_ptr<Config> load_config_without_token(const std::string& config_path) {
  auto loaded = load_config_file(config_path, builtin_catalog());
  if (loaded.config) return std::move(loaded.config);
  try {
    YAML::Node root = YAML::LoadFile(config_path);
    if (root.IsMap() && root["launchdarkly"] && root["launchdarkly"].IsMap()) {
      YAML::Node ld = root["launchdarkly"];
      ld.remove("token_file");
      ld.remove("ca_bundle");  // no request is made: a CA file missing here does not matter
      ld["token"] = "unused-by-verify";
      YAML::Emitter out;
      out << root;
      auto again = load_config_string(out.c_str(), config_path, builtin_catalog());
      if (again.config) return std::move(again.config);
    }
  } catch (const YAML::Exception&) {
    // reported below, as the loader saw it
  }
  for (const auto& e : loaded.errors) std::cerr << e << "\n";
  return nullptr;
}

Result<std::unique_ptr<CheckpointStore>> build_store_for_reading(const Config& cfg) { return cfg.checkpoint->build(); }

Result<std::vector<std::string>> list_checkpointed_streams(const Config& cfg, CheckpointStore& store) {
  if (const auto* f = dynamic_cast<const FileCheckpointConfig*>(cfg.checkpoint.get())) {
    std::error_code ec;
    if (!fs::exists(f->path, ec) && !ec) return std::vector<std::string>{};
  }
  return store.list_streams();
}

namespace {

int verify_config(const std::string& config_path) {
  auto loaded = load_config_without_token(config_path);
  if (!loaded) return kExitInvalid;
  const Config& cfg = *loaded;
  std::vector<const FileSinkConfig*> archives;
  for (const auto& sc : cfg.sinks) {
    if (const auto* f = dynamic_cast<const FileSinkConfig*>(sc.get())) archives.push_back(f);
  }
  if (archives.empty()) {
    std::cerr << "ldexport verify: " << config_path << " has no sink of type file (the archive)\n";
    return kExitInvalid;
  }
  // The store is read, never opened: open() takes the writer's lock (held by a running
  // ldexport) and creates a missing directory; verify only reads.
  std::unique_ptr<CheckpointStore> store;
  std::vector<std::string> checkpointed;
  if (auto built = build_store_for_reading(cfg); !built.is_ok()) {
    std::cout << "note: cannot read the checkpoints (" << built.status().message()
              << "); verifying the archive alone, without its committed positions and chain head\n";
  } else if (auto listed = list_checkpointed_streams(cfg, *built.value()); !listed.is_ok()) {
    std::cout << "note: cannot read the checkpoints (" << listed.status().message()
              << "); verifying the archive alone, without its committed positions and chain head\n";
  } else {
    store = std::move(built.value());
    checkpointed = std::move(listed.value());
  }
  bool intact = true;
  for (const FileSinkConfig* sink : archives) {
    const fs::path root = sink->path;
    const std::string label = archives.size() > 1 ? sink->name + "/" : "";
    // Every stream with files in the archive, and every stream whose checkpoint commits
    // a position in it: a stream directory removed as a whole is not intact.
    std::set<std::string> streams;
    for (auto& s : list_archive_streams(root)) streams.insert(std::move(s));
    std::map<std::string, Result<std::optional<Checkpoint>>> checkpoints;
    for (const auto& stream : checkpointed) {
      auto cp = store->load(stream);
      const bool commits_here = cp.is_ok() && cp.value() && cp.value()->sink_positions.contains(sink->name);
      if (!cp.is_ok() || commits_here) streams.insert(stream);
      checkpoints.emplace(stream, std::move(cp));
    }
    for (const auto& stream : streams) {
      Committed committed;
      if (store) {
        auto it = checkpoints.find(stream);
        auto cp = it != checkpoints.end() ? std::move(it->second) : store->load(stream);
        if (!cp.is_ok()) {
          std::cout << label << stream << ": NOT INTACT: its checkpoint cannot be read: " << cp.status().message() << "\n";
          intact = false;
          continue;
        }
        if (cp.value()) {
          const auto& pos = cp.value()->sink_positions;
          if (auto p = pos.find(sink->name); p != pos.end() && p->is_object()) {
            committed.position = ArchivePosition{p->value("file", uint64_t{1}), p->value("offset", int64_t{0})};
          }
          if (auto p = pos.find(kChainPositionKey); p != pos.end() && p->is_object()) {
            committed.chain_head = p->value("head", std::string());
          }
        }
      }
      intact = verify_and_report(root, label, stream, store ? &committed : nullptr) && intact;
    }
  }
  std::cout << (intact ? "verify: intact\n" : "verify: NOT INTACT\n");
  return intact ? kExitIntact : kExitBroken;
}

}  // namespace

int verify_command(const std::string& config_path, const std::string& archive_dir) {
  if (!archive_dir.empty()) return verify_archive_dir(archive_dir);
  return verify_config(config_path);
}

}  // namespace ldx
