#include "common/hash_chain.h"

#include <openssl/evp.h>

#include <charconv>

#include "common/canonical_json.h"
#include "core/json_writer.h"
#include "core/time_util.h"

namespace ldx {

bool stream_is_chained(std::string_view stream) { return stream == "audit_log"; }

namespace {
// SHA-256 fetched once and one context per thread: EVP_Digest() looks the algorithm up
// and allocates a context on every call, which costs about as much as hashing a record.
struct Sha256 {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Sha256() = default;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  ~Sha256() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
};

// Hashes its input in pieces, so large parts (a record's data) need not be copied
// into one buffer first. Uses this thread's context; one digest at a time per thread.
class Sha256Stream {
 public:
  Sha256Stream() : sha_(state()) {
    ok_ = sha_.md != nullptr && sha_.ctx != nullptr && EVP_DigestInit_ex(sha_.ctx, sha_.md, nullptr) == 1;
  }
  void update(std::string_view part) {
    ok_ = ok_ && EVP_DigestUpdate(sha_.ctx, part.data(), part.size()) == 1;
  }
  // Lowercase hex into `out` (replacing it, reusing its memory); false, `out` empty,
  // if OpenSSL failed (short of memory exhaustion it cannot).
  bool hex_into(std::string& out) {
    out.clear();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ok_ || EVP_DigestFinal_ex(sha_.ctx, md, &len) != 1) return false;
    static constexpr char kHex[] = "0123456789abcdef";
    out.resize(static_cast<size_t>(len) * 2);
    for (unsigned int i = 0; i < len; ++i) {
      out[2 * i] = kHex[md[i] >> 4];
      out[2 * i + 1] = kHex[md[i] & 0xF];
    }
    return true;
  }

 private:
  static Sha256& state() {
    thread_local Sha256 sha;
    return sha;
  }
  Sha256& sha_;
  bool ok_ = false;
};

}  // namespace

std::string sha256_hex(std::string_view data) {
  Sha256Stream sha;
  sha.update(data);
  std::string out;
  sha.hex_into(out);
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
  if (out.computed.empty()) {
    if (error != nullptr) *error = "SHA-256 is not available";
    return false;
  }
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

namespace {
// record_hash(const Record&) into `hex`, reusing its memory (the chain's hot path).
Status hash_record_fields(const Record& r, std::string& hex) {
  // The canonical form of the envelope Record::finish() writes, without observed_at and
  // hash: its members in key order, strings as append_json_string writes them (already
  // canonical), `data` and `changes` canonicalized one level below the top.
  thread_local std::string out;
  out.clear();
  Sha256Stream sha;
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
  } else if (r.data_is_canonical) {
    // Hashed where it is: what precedes it, then data itself, then the rest.
    sha.update(out);
    sha.update(r.data);
    out.clear();
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
    append_json_timestamp(out, *r.occurred_at_ms);
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
  if (r.version) {
    char buf[24];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, *r.version).ptr);
  } else {
    out += "null";
  }
  out.push_back('}');
  sha.update(out);
  if (!sha.hex_into(hex)) return Status::fatal("cannot hash record " + r.id + ": SHA-256 is not available");
  return Status::ok();
}
}  // namespace

Result<std::string> record_hash(const Record& r) {
  std::string hex;
  if (auto st = hash_record_fields(r, hex); !st.is_ok()) return st;
  return hex;
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
    // A fresh record's envelope has no chain fields yet: they are appended to it.
    const bool append = r.chain_prev.empty() && r.chain_hash.empty();
    r.chain_prev = head;
    if (auto st = hash_record_fields(r, r.chain_hash); !st.is_ok()) return st;
    if (append) {
      r.finish_chain();
    } else {
      r.finish();
    }
    head = r.chain_hash;
  }
  sink_positions[kChainPositionKey] = {{"head", head}};
  return Status::ok();
}

}  // namespace ldx
