#include "sinks/file/chain_manifest.h"

#include <fstream>
#include <sstream>

#include "common/durable_file.h"

namespace ldx {

namespace {

constexpr const char* kManifestSchema = "ldexport.chain.v1";

std::string str_or_empty(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t uint_or_zero(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) return 0;
  return it->get<uint64_t>();
}

// Checks one event against the anchor so far and advances it.
Status apply_event(const nlohmann::json& ev, ChainAnchor& a) {
  const std::string kind = str_or_empty(ev, "event");
  if (kind == "start") {
    if (a.events != 0) return Status::data_error("a start event must be the first event");
    if (uint_or_zero(ev, "file") != a.first_file) return Status::data_error("start event names file " + ev.value("file", nlohmann::json()).dump() + ", expected 1");
    const std::string prev = str_or_empty(ev, "prev_hash");
    if (!is_sha256_hex(prev)) return Status::data_error("start event has no valid prev_hash");
    a.first_prev = prev;
  } else if (kind == "prune") {
    const uint64_t first = uint_or_zero(ev, "first_file");
    const uint64_t last = uint_or_zero(ev, "last_file");
    if (first != a.first_file || last < first) {
      return Status::data_error("prune event covers files " + std::to_string(first) + ".." + std::to_string(last) +
                                ", expected to start at file " + std::to_string(a.first_file));
    }
    const std::string first_prev = str_or_empty(ev, "first_prev_hash");
    const std::string last_hash = str_or_empty(ev, "last_hash");
    if (first_prev != a.first_prev) {
      return Status::data_error("prune event's first_prev_hash does not continue the chain (expected " + a.first_prev + ")");
    }
    // Streams without a hash chain record an empty last_hash.
    if (!last_hash.empty() && !is_sha256_hex(last_hash)) return Status::data_error("prune event has no valid last_hash");
    a.first_file = last + 1;
    a.first_prev = last_hash;
    a.pruned_records += uint_or_zero(ev, "records");
    a.pruned_files += last - first + 1;
  } else {
    return Status::data_error("unknown event '" + kind + "'");
  }
  ++a.events;
  return Status::ok();
}

}  // namespace

std::filesystem::path chain_manifest_path(const std::filesystem::path& archive_root, const std::string& stream) {
  return archive_root / "_chain" / (stream + ".jsonl");
}

Result<ChainAnchor> read_chain_manifest(const std::filesystem::path& path) {
  ChainAnchor a;
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return Status::retryable("cannot read " + path.string());
    return a;
  }
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string where = path.string() + ":" + std::to_string(n) + ": ";
    ChainedLine cl;
    std::string scratch;
    std::string err;
    if (!read_chained_line(line, cl, scratch, &err)) return Status::data_error(where + "not valid JSON: " + err);
    nlohmann::json ev = nlohmann::json::parse(line, nullptr, false);
    if (ev.is_discarded() || !ev.is_object()) return Status::data_error(where + "not a JSON object");
    if (str_or_empty(ev, "schema") != kManifestSchema) return Status::data_error(where + "unknown schema");
    if (cl.hash != cl.computed) return Status::data_error(where + "changed: its hash does not match its content");
    if (str_or_empty(ev, "prev") != a.last_event_hash) {
      return Status::data_error(where + "the manifest's own chain is broken (an event was removed, inserted or moved)");
    }
    if (auto st = apply_event(ev, a); !st.is_ok()) return Status::data_error(where + st.message());
    a.last_event_hash = cl.hash;
  }
  if (in.bad()) return Status::retryable("cannot read " + path.string());
  return a;
}

Status append_chain_manifest_event(const std::filesystem::path& path, nlohmann::json event, ChainAnchor& anchor) {
  event["schema"] = kManifestSchema;
  event["prev"] = anchor.last_event_hash;
  event.erase("hash");
  ChainAnchor next = anchor;
  if (auto st = apply_event(event, next); !st.is_ok()) return Status::fatal("chain manifest " + path.string() + ": " + st.message());
  const std::string unhashed = event.dump();
  auto h = record_hash(unhashed);  // canonical form without "hash" (and "observed_at", never present)
  if (!h.is_ok()) return h.status();
  event["hash"] = h.value();
  std::string content;
  {
    std::ifstream in(path);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      content = ss.str();
    }
  }
  if (!content.empty() && content.back() != '\n') content.push_back('\n');
  content += event.dump();
  content.push_back('\n');
  std::error_code ec;
  const bool new_dir = !std::filesystem::exists(path.parent_path(), ec);
  if (auto st = ensure_dir(path.parent_path()); !st.is_ok()) return st;
  if (new_dir) {
    if (auto st = fsync_dir(path.parent_path().parent_path()); !st.is_ok()) return st;
  }
  if (auto st = atomic_write_file(path, content); !st.is_ok()) return st;
  next.last_event_hash = h.value();
  anchor = std::move(next);
  return Status::ok();
}

}  // namespace ldx
