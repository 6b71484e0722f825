// Snapshot-and-diff (ARCHITECTURE §3, issue 3): what the last snapshot of a stream held,
// so that a pass emits only what changed, and deletes what disappeared.
//
// `known` maps every entity id the sinks were last told about to its fingerprint (a
// version, or a 64-bit hash of the redacted JSON for unversioned entities) and to the
// generation of the last snapshot that saw it. A snapshot opens generation G+1, marks
// every id it lists, and only when it has listed everything (a COMPLETE snapshot) are the
// ids still marked < G+1 deleted. `progress` says where the open snapshot is (scope and
// offset), so after a crash the pass resumes there and redoes about a page.
// The state is committed with every batch, only after every sink acked it, so `known`
// never runs ahead of what the sinks hold.
//
// `unreadable` does the same for the listed items the stream could not read, which went
// to the dead-letter output instead of the sinks: named by scope and content fingerprint
// (such an item may have no id), each is dead-lettered when first listed and again only
// once its content changed, not at every listing; a complete snapshot forgets those it
// did not list. Byte-identical items share a name, so each name holds how many copies
// the output was told of: a listing dead-letters each copy beyond that number (two
// identical items: two dead letters, the first time only), and a complete snapshot
// leaves it at the number it listed. It is kept here, in the committed cursor, because
// it is part of what the outputs were last told, and a stream that compares
// LaunchDarkly's totalCount with what it knows must count these items too, copies
// included (segments: or every pass lists in full).
//
// An unreadable answer to a confirmation GET (snapshot_pass.h) is named under the id it
// confirms ("<id>/<fingerprint>"), not under a list scope: it is dead-lettered once, but
// it is the kept id's entity, which counts already, so unreadable_listed() leaves it out.
//
// Cursor form of `unreadable`: {name: gen} for a name holding one copy (the only form
// 8dc6669 wrote, still read as one copy), {name: [gen, copies, seen]} for one holding
// more, where `seen` is how many the open snapshot of generation `gen` listed so far.
//
// Size: one entry per live entity (~40 bytes in JSON), plus one per distinct unreadable
// item still listed. Flags x projects, segments, members, teams, metrics fit; contexts are
// not snapshotted (see contexts/).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ldx {

// Stable 64-bit FNV-1a, as 16 hex digits: fingerprints must survive upgrades.
std::string content_fingerprint(std::string_view bytes);
// The name SnapshotState keeps an unreadable item under: "<scope key>/<fingerprint of its raw JSON>".
std::string unreadable_name(const std::string& scope_key, std::string_view raw);

enum class Observed { kNew, kChanged, kSame };

struct KnownEntity {
  std::string fp;
  uint64_t gen = 0;
};

struct SnapshotProgress {
  std::string scope;   // key of the scope being listed ("" = from the first)
  int64_t offset = 0;  // items of that scope already done
  bool listed = false;  // every scope listed; confirming deletions
};

class SnapshotState {
 public:
  using IdFilter = std::function<bool(const std::string& id)>;

  [[nodiscard]] bool in_snapshot() const { return in_snapshot_; }
  [[nodiscard]] uint64_t generation() const { return gen_; }
  // Start time (wall ms) of the last snapshot that completed; 0 = none yet.
  [[nodiscard]] int64_t last_complete_started_ms() const { return last_complete_started_ms_; }
  [[nodiscard]] int64_t started_ms() const { return started_ms_; }

  // Opens generation G+1 (no-op when one is open: a resumed snapshot continues).
  void begin_snapshot(int64_t now_ms);
  // Records the entity as seen now, with this fingerprint. Outside a snapshot it is
  // still marked with the current generation (it is alive).
  Observed observe(const std::string& id, const std::string& fp);
  void forget(const std::string& id);
  // An id a sink may hold an upsert of that this state never learnt of (the batch was
  // not committed; Source::adopt_unconfirmed_upserts). Known from now on, with a
  // fingerprint nothing matches and no snapshot's generation: the next listing upserts it
  // again, and a complete snapshot that does not list it deletes it. Known ids are left
  // as they are.
  void adopt_unconfirmed(const std::string& id);
  [[nodiscard]] const KnownEntity* find(const std::string& id) const;
  [[nodiscard]] size_t size() const { return known_.size(); }
  // Ids starting with `prefix` (e.g. "default/production/").
  [[nodiscard]] std::vector<std::string> ids_with_prefix(const std::string& prefix) const;
  // Whether any known id starts with `prefix`, without copying them.
  [[nodiscard]] bool has_id_with_prefix(const std::string& prefix) const {
    auto it = known_.lower_bound(prefix);
    return it != known_.end() && it->first.starts_with(prefix);
  }

  // A listed item that could not be read, named "<scope key>/<content fingerprint>"
  // (see unreadable_name()): true when it is to be dead-lettered, i.e. when this copy is
  // one beyond those the name holds (which it then holds). Inside a snapshot the copies
  // are counted per generation (the second identical item listed by the same snapshot is
  // a second copy); outside one, `copy` says which copy of the caller's own listing this
  // is (1 = the first). Marked with the current generation, as observe() does.
  bool observe_unreadable(const std::string& name);
  bool observe_unreadable(const std::string& name, size_t copy);
  void forget_unreadable(const std::string& name);
  // Copies `name` holds (0 = unknown).
  [[nodiscard]] size_t unreadable_copies(const std::string& name) const;
  // Holds `copies` copies of `name`, as another state's view of a scope replaces this
  // one's; 0 forgets it. Outside a snapshot it is marked with the current generation;
  // inside one it is not taken as listed (a complete snapshot forgets it unless listed).
  void hold_unreadable(const std::string& name, size_t copies);
  // Names starting with `prefix` (e.g. "default/production/"), sorted.
  [[nodiscard]] std::vector<std::string> unreadable_with_prefix(const std::string& prefix) const;
  // Copies held of the items listed by scope `scope_key` that could not be read: the
  // names unreadable_name(scope_key, ...) makes, not those of confirmation answers.
  [[nodiscard]] size_t unreadable_listed(const std::string& scope_key) const;

  SnapshotProgress& progress() { return progress_; }
  [[nodiscard]] const SnapshotProgress& progress() const { return progress_; }

  // Known ids the open snapshot has not seen and the selection still covers: the
  // deletion candidates once every scope is listed. Sorted.
  [[nodiscard]] std::vector<std::string> unseen(const IdFilter& selected) const;
  // Closes the snapshot. Unseen ids outside the selection are forgotten without a
  // delete (the config stopped covering them; LaunchDarkly did not delete them).
  // Unseen selected ids must have been handled (deleted) by the caller before. Unseen
  // unreadable items are forgotten (gone, or changed into another name).
  void end_snapshot(const IdFilter& selected);

  [[nodiscard]] nlohmann::json to_json() const;
  static Result<SnapshotState> from_json(const nlohmann::json& j);

 private:
  std::map<std::string, KnownEntity> known_;
  struct Unreadable {
    uint64_t gen = 0;   // generation that last listed it
    size_t copies = 1;  // copies the output was told of (dead-lettered) and still listed
    size_t seen = 0;    // copies the open snapshot of generation `gen` listed so far
  };
  std::map<std::string, Unreadable> unreadable_;
  uint64_t gen_ = 0;
  bool in_snapshot_ = false;
  int64_t started_ms_ = 0;
  int64_t last_complete_started_ms_ = 0;
  SnapshotProgress progress_;
};

}  // namespace ldx
