#include "common/hash_chain.h"

#include <openssl/evp.h>

#include "common/canonical_json.h"
#include "core/json_writer.h"
#include "core/time_util.h"

namespace ldx {

bool stream_is_chained(std::string_view stream) { return stream == "audit_log"; }

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // One-shot EVP digest: cannot fail for SHA-256 short of memory exhaustion.
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<size_t>(len) * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xF];
  }
  return out;
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool read_chained_line(std::string_view envelope, ChainedLine& out, std::string& scratch, std::string* error) {
  out.id.clear();
  out.prev_hash.clear();
  out.hash.clear();
  out.observed_at.clear();
  out.computed.clear();
  scratch.clear();
  CanonicalOptions opts;
  opts.skip_top = {"observed_at", "hash"};
  opts.capture_top = {{"id", &out.id},
                      {"prev_hash", &out.prev_hash},
                      {"hash", &out.hash},
                      {"observed_at", &out.observed_at}};
  if (!append_canonical_json(scratch, envelope, opts, error)) return false;
  if (scratch.empty() || scratch.front() != '{') {
    if (error != nullptr) *error = "not a JSON object";
    return false;
  }
  out.computed = sha256_hex(scratch);
  return true;
}

Result<std::string> record_hash(std::string_view envelope) {
  ChainedLine line;
  std::string scratch;
  std::string error;
  if (!read_chained_line(envelope, line, scratch, &error)) {
    return Status::fatal("cannot hash a record envelope: " + error);
  }
  return std::move(line.computed);
}

Result<std::string> record_hash(const Record& r) {
  // The canonical form of the envelope Record::finish() writes, without observed_at and
  // hash: its members in key order, strings as append_json_string writes them (already
  // canonical), `data` and `changes` canonicalized one level below the top.
  thread_local std::string out;
  out.clear();
  std::string error;
  CanonicalOptions nested;
  nested.depth = 1;
  bool first = true;
  auto key = [&](const char* k) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out += k;
    out += "\":";
  };
  auto nullable = [&](const std::string& v) {
    if (v.empty()) {
      out += "null";
    } else {
      append_json_string(out, v);
    }
  };
  out.push_back('{');
  if (!r.changes.empty()) {
    key("changes");
    if (!append_canonical_json(out, r.changes, nested, &error)) {
      return Status::fatal("cannot hash record " + r.id + ": its changes: " + error);
    }
  }
  key("data");
  if (r.data.empty()) {
    out += "null";
  } else if (!append_canonical_json(out, r.data, nested, &error)) {
    return Status::fatal("cannot hash record " + r.id + ": its data: " + error);
  }
  key("environment");
  nullable(r.environment);
  key("id");
  append_json_string(out, r.id);
  key("kind");
  nullable(r.kind);
  key("occurred_at");
  if (r.occurred_at_ms) {
    append_json_string(out, format_rfc3339_ms(*r.occurred_at_ms));
  } else {
    out += "null";
  }
  key("op");
  append_json_string(out, op_name(r.op));
  if (!r.chain_prev.empty()) {
    key("prev_hash");
    append_json_string(out, r.chain_prev);
  }
  key("project");
  nullable(r.project);
  key("schema");
  append_json_string(out, kSchemaV1);
  key("stream");
  append_json_string(out, r.stream);
  key("version");
  out += r.version ? std::to_string(*r.version) : "null";
  out.push_back('}');
  return sha256_hex(out);
}

Status apply_hash_chain(Batch& batch, nlohmann::json& sink_positions) {
  if (!stream_is_chained(batch.stream)) return Status::ok();
  std::string head(kChainGenesis);
  if (auto it = sink_positions.find(kChainPositionKey); it != sink_positions.end()) {
    const nlohmann::json& pos = *it;
    if (!pos.is_object() || !pos.contains("head") || !pos["head"].is_string() ||
        !is_sha256_hex(pos["head"].get<std::string>())) {
      return Status::fatal("the checkpoint's hash-chain head (" + std::string(kChainPositionKey) +
                           ") is malformed: " + pos.dump());
    }
    head = pos["head"].get<std::string>();
  }
  for (Record& r : batch.records) {
    r.chain_prev = head;
    r.chain_hash.clear();
    auto h = record_hash(r);
    if (!h.is_ok()) return h.status();
    r.chain_hash = std::move(h.value());
    r.finish();
    head = r.chain_hash;
  }
  sink_positions[kChainPositionKey] = {{"head", head}};
  return Status::ok();
}

}  // namespace ldx
