// The three component contracts (STYLE.md "Components have a contract").
//
//  Source          knows one LaunchDarkly endpoint family: how to page it, what its
//                  cursor is, how to resume from a committed cursor.
//  Sink            makes a batch durable and says so; replays after a restart are
//                  invisible (idempotent by record id, or truncation to a position).
//  CheckpointStore keeps, per stream, the committed source cursor together with every
//                  sink's position, atomically.
//
// The pipeline commits a batch's cursor only after every sink acked it (ARCHITECTURE §3).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/record.h"
#include "core/status.h"

namespace ldx {

class Source {
 public:
  virtual ~Source() = default;
  [[nodiscard]] virtual const std::string& stream() const = 0;
  // Starts a pass from `committed_cursor` (null on the first run ever).
  virtual Status begin_pass(const nlohmann::json& committed_cursor) = 0;
  // The next batch of the pass, or nullopt when the pass has caught up. Must return
  // regularly; a batch may be empty and carry only a cursor to commit.
  virtual Result<std::optional<Batch>> next_batch() = 0;
  // Requests counted by this source during the current pass (for the summary).
  [[nodiscard]] virtual uint64_t requests_this_pass() const = 0;
  // True when the stream deletes entities it upserted before (snapshot-and-diff). Then,
  // with a sink that keeps uncommitted writes (Sink::keeps_uncommitted_writes), the
  // pipeline records the ids a batch upserts before writing it, and hands them to
  // adopt_unconfirmed_upserts() after a crash.
  [[nodiscard]] virtual bool emits_deletes() const { return false; }
  // Called before begin_pass with ids whose upsert a sink may hold although the committed
  // cursor never learnt of them (a batch reached an at-least-once sink, then the process
  // died before its commit). The source must treat them as known, with an unknown state:
  // the pass upserts each again if it exists, and deletes it if it does not, so no sink
  // keeps an entity that is gone. Its next cursor includes them.
  virtual void adopt_unconfirmed_upserts(std::vector<std::string> /*ids*/) {}
};

// The reserved member of Checkpoint::sink_positions holding the ids a batch upserts
// while it is being written (see Source::emits_deletes).
inline constexpr const char* kUnconfirmedUpsertsKey = "_unconfirmed_upserts";

class Sink {
 public:
  virtual ~Sink() = default;
  [[nodiscard]] virtual const std::string& name() const = 0;
  // Connects and checks the destination (separate from running, like Vector's healthcheck).
  virtual Status open() = 0;
  // Called once per stream before its first write with the position this sink reported
  // for the last committed batch (null if none): the sink discards anything written
  // after it, so the replay that follows shows no duplicate.
  virtual Status recover(const std::string& stream, const nlohmann::json& committed_position) = 0;
  // Makes the batch durable; returns the sink's new position for that stream (any JSON,
  // null if the sink needs none). On error nothing of this batch may count as written.
  virtual Result<nlohmann::json> write(const Batch& batch) = 0;
  // True when what write() sent stays visible even if its batch is never committed and
  // recover() cannot take it back (Kafka at least once). Default: false (the sink
  // truncates, or writes in one transaction with its position).
  [[nodiscard]] virtual bool keeps_uncommitted_writes() const { return false; }
  // The pipeline made durable the checkpoint that holds `position` (what write()
  // returned) for this stream. Called on the stream's thread, in order. Default: nothing.
  virtual void committed(const std::string& stream, const nlohmann::json& position) {
    (void)stream;
    (void)position;
  }
  virtual Status close() = 0;
  // A cheap check that the destination is reachable, for /readyz. Called from the
  // status thread, concurrently with write(): implementations must be thread-safe
  // (e.g. use a separate connection). Default: healthy.
  virtual Status health() { return Status::ok(); }
};

struct Checkpoint {
  nlohmann::json source_cursor;      // null = nothing committed yet
  nlohmann::json sink_positions = nlohmann::json::object();  // sink name -> position
  int64_t committed_at_ms = 0;
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  virtual Status open() = 0;
  virtual Result<std::optional<Checkpoint>> load(const std::string& stream) = 0;
  // Atomic: after a crash either the previous or the new checkpoint is read back.
  virtual Status commit(const std::string& stream, const Checkpoint& cp) = 0;
  virtual Result<std::vector<std::string>> list_streams() = 0;
  virtual Status reset(const std::string& stream) = 0;
};

}  // namespace ldx
