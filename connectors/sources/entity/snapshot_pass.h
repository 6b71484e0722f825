// The generic snapshot-and-diff pass (snapshot_state.h): lists every scope of a stream
// page by page at the largest page size, emits an upsert for each entity that is new or
// whose fingerprint changed, and, once every scope is listed, confirms and deletes what
// disappeared. Per-stream code (SnapshotStream) only knows its endpoint: which scopes
// exist, how to read one item, how to ask for one entity.
//
// Offset paging can skip an item when the list shifts under it (an earlier item is
// deleted mid-snapshot). So an id that a complete snapshot did not see is confirmed
// with a GET of that one entity where the API has one: 404 = deleted (a `delete`
// record); 200 = alive after all (an upsert if it changed). This costs requests only
// for entities that actually disappeared; a steady state spends none.
#pragma once

#include <simdjson.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.h"
#include "sources/entity/entity_pass.h"
#include "sources/entity/snapshot_state.h"

namespace ldx {

// One list the snapshot pages through, or a set of items discovery already read.
struct ListScope {
  std::string key;  // stable; scopes are processed in key order (the progress marker)
  std::string project;
  std::string environment;
  std::string target;  // path and query without limit/offset; empty for preloaded scopes
  std::string route;
  int limit = 0;  // page size; 0: the target returns one entity, not a page
  std::string items_field = "items";
  std::string total_field = "totalCount";
  bool preloaded = false;
  std::vector<std::string> items;  // preloaded items (raw JSON)
};

class SnapshotStream {
 public:
  virtual ~SnapshotStream() = default;
  [[nodiscard]] virtual const std::string& stream() const = 0;
  [[nodiscard]] virtual std::vector<ListScope> scopes(const std::vector<ProjectInfo>& projects) const = 0;
  // One item -> entity. A DataError dead-letters the item.
  [[nodiscard]] virtual Result<Entity> normalize(simdjson::dom::element item, const ListScope& scope,
                                                 int64_t now_ms) const = 0;
  // Is this id inside the configured selection (projects / environments)?
  [[nodiscard]] virtual bool selected(const std::string& id) const = 0;
  [[nodiscard]] virtual Record delete_record(const std::string& id, int64_t now_ms) const = 0;
  // GET of one entity to confirm a disappearance; nullopt when the API has none.
  [[nodiscard]] virtual std::optional<ListScope> confirm(const std::string& /*id*/) const { return std::nullopt; }
  // Sees every listed entity (e.g. segments track the newest lastModifiedDate per scope).
  virtual void on_listed(const ListScope& /*scope*/, const Entity& /*e*/) {}
  // The policy the stream redacts its `data` with (the config's include_secrets), which
  // its dead letters are redacted with too. The default redacts: a stream that does not
  // say errs on the side of keeping secrets out of dead letters, never of exporting them.
  [[nodiscard]] virtual SecretPolicy secret_policy() const { return SecretPolicy{}; }
};

// Applies one normalized entity to the state: an upsert record when new or changed, a
// delete record when the API marks it deleted and it was known.
void apply_entity(SnapshotState& state, Entity&& e, const std::string& stream, int64_t now_ms, StepOutput& out);

// What a dead letter of an entity stream holds for an item it read: the item minified
// with secrets redacted as in `data` (SecretPolicy). A number beyond 64 bits stays the
// marked string it was rewritten into: EntitySource::set_aside_unrepresentable restores
// it as it came.
std::string dead_letter_raw(simdjson::dom::element item, const SecretPolicy& policy);

// Dead-letters an item of `scope` the stream could not read, unless `state` holds it
// already (SnapshotState::observe_unreadable): listed again unchanged, it adds nothing;
// a byte-identical copy listed by the same snapshot is one more item, dead-lettered once
// too. For a confirmation GET `scope` is the entity's (key = its id), so the answer is
// named under that id and not counted as an item of the list (unreadable_listed()).
// The item is named from `raw`, its text as listed (unredacted minified JSON): committed
// cursors hold those names, so they must not change. The dead letter holds
// dead_letter_raw(*item, policy); without `item` (raw is not JSON, so nothing can be
// told apart to redact) it holds `raw` as it is.
void dead_letter_unreadable(SnapshotState& state, const ListScope& scope, const std::string& stream,
                            std::string reason, std::string_view raw, std::optional<simdjson::dom::element> item,
                            const SecretPolicy& policy, int64_t now_ms, StepOutput& out);

// The cursor of a plain snapshot stream: {"v":1,"snapshot":<SnapshotState>}.
nlohmann::json snapshot_cursor(const SnapshotState& state);
// About the serialized size of a SnapshotState (an id, a fingerprint and a generation per entity).
inline size_t snapshot_cursor_bytes(const SnapshotState& state) { return 64 + state.size() * 48; }
Result<SnapshotState> snapshot_from_cursor(const nlohmann::json& cursor, const std::string& stream);
// `cursor` (a snapshot stream's, or null) with `ids` adopted into its state
// (SnapshotState::adopt_unconfirmed); the rest of the cursor is kept as it is.
Result<nlohmann::json> cursor_with_unconfirmed(const nlohmann::json& cursor, const std::vector<std::string>& ids,
                                               const std::string& stream);

class SnapshotPass final : public EntityPass {
 public:
  // Opens a snapshot in `state` unless one is open (then it resumes at its progress).
  // `cursor_of` builds the stream's whole cursor around the state (default:
  // {"v":1,"snapshot":state}).
  using CursorOf = std::function<nlohmann::json(const SnapshotState&)>;
  SnapshotPass(SnapshotStream& stream, SnapshotState& state, std::vector<ListScope> scopes, int64_t now_ms,
               CursorOf cursor_of = {});
  PassStep next() override;
  Status on_answer(const ApiCall& call, const ApiAnswer& answer, int64_t now_ms, StepOutput& out) override;
  Status run_local(int64_t now_ms, StepOutput& out) override;
  [[nodiscard]] nlohmann::json cursor() const override;
  [[nodiscard]] size_t cursor_bytes_hint() const override { return snapshot_cursor_bytes(state_); }
  [[nodiscard]] bool finished() const { return phase_ == Phase::kDone; }

 private:
  enum class Phase { kList, kConfirm, kDeleteAll, kEnd, kDone };
  void advance_scope();
  void enter_confirm();
  Status ingest_items(simdjson::dom::element doc, const ListScope& scope, bool single, int64_t now_ms,
                      StepOutput& out, size_t& count);

  SnapshotStream& stream_;
  SnapshotState& state_;
  CursorOf cursor_of_;
  std::vector<ListScope> scopes_;
  size_t scope_idx_ = 0;
  Phase phase_ = Phase::kList;
  std::vector<std::string> candidates_;
  size_t candidate_idx_ = 0;
  std::optional<ListScope> confirming_;
  simdjson::dom::parser local_parser_;
};

}  // namespace ldx
