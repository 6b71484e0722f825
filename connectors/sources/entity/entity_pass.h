// The shape every entity stream shares (STYLE.md: one paging/poll loop, per-stream code
// that only knows its endpoint). EntitySource (entity_source.h) is the loop: it asks the
// stream's pass for the next step, makes the call, hands the answer back, and turns what
// the pass produced into one Batch with the pass's cursor. A pass never does I/O itself.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.h"
#include "core/status.h"
#include "sources/entity/discovery.h"
#include "sources/entity/entity_client.h"

namespace ldx {

// What one step produced: it becomes one batch (possibly without records: then it only
// carries the cursor, e.g. the progress of a snapshot through unchanged pages).
struct StepOutput {
  std::vector<Record> records;
  std::vector<DeadLetter> dead_letters;
  uint64_t pages = 0;
};

struct PassStep {
  enum class Kind { kCall, kLocal, kDone };
  Kind kind = Kind::kDone;
  ApiCall call;  // kCall only
  static PassStep done() { return {}; }
  static PassStep local() { return {Kind::kLocal, {}}; }
  static PassStep request(ApiCall c) { return {Kind::kCall, std::move(c)}; }
};

class EntityPass {
 public:
  virtual ~EntityPass() = default;
  virtual PassStep next() = 0;
  // The answer to the call of the last kCall step.
  virtual Status on_answer(const ApiCall& call, const ApiAnswer& answer, int64_t now_ms, StepOutput& out) = 0;
  // The work of the last kLocal step (items discovery already read, final deletes, ...).
  virtual Status run_local(int64_t now_ms, StepOutput& out) = 0;
  // Safe to commit once everything produced so far is durable in every sink.
  [[nodiscard]] virtual nlohmann::json cursor() const = 0;
  // About how many bytes cursor() serializes to (0: small). EntitySource commits at
  // most about as many checkpoint bytes as it reads from the API.
  [[nodiscard]] virtual size_t cursor_bytes_hint() const { return 0; }
};

class EntityStream {
 public:
  virtual ~EntityStream() = default;
  [[nodiscard]] virtual const std::string& stream() const = 0;
  // What discovery must resolve before a pass (nothing: no discovery requests).
  [[nodiscard]] virtual bool needs_discovery() const { return true; }
  // True for the snapshot-and-diff streams: they delete entities they upserted before,
  // and their cursor is {"v":1,"snapshot":<SnapshotState>,...} (snapshot_pass.h), into
  // which EntitySource adopts unconfirmed upserts (Source::adopt_unconfirmed_upserts).
  [[nodiscard]] virtual bool emits_deletes() const { return false; }
  [[nodiscard]] virtual DiscoveryNeeds discovery() const { return {false, true}; }
  virtual Result<std::unique_ptr<EntityPass>> begin_pass(const nlohmann::json& cursor,
                                                         const std::vector<ProjectInfo>& projects, int64_t now_ms) = 0;
};

// One normalized entity: its record and the fingerprint the diff compares.
struct Entity {
  Record record;
  std::string fp;
  bool deleted = false;  // the API itself says it is deleted (e.g. a segment's `deleted: true`)
};

// The n-th '/'-separated part of an id ("default/production/beta" -> 1 -> "production").
// LaunchDarkly keys cannot contain '/', so the project and environment parts are exact.
std::string_view id_part(std::string_view id, size_t n);

// An envelope with op "delete" and data null (the last known state lives in the sinks).
Record make_delete_record(const std::string& stream, const std::string& id, std::string project,
                          std::string environment, int64_t now_ms);

}  // namespace ldx
