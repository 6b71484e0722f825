// The data and the pipeline pass the sink benchmarks share: audit-log API pages
// recorded once from ld-simulator (then served from memory), the finished records the
// pipeline makes of them (normalized and hash-chained), and one StreamRunner pass over
// the recorded pages into any set of sinks, with file checkpoints, as the daemon runs
// a stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/interfaces.h"
#include "core/record.h"

namespace ldx::bench {

// Starts `simulator --seed seed --audit-entries entries`, walks /api/v2/auditlog with
// limit=20 and returns every page body, then stops the simulator.
std::vector<std::string> record_simulator_audit_pages(const std::string& simulator, int entries, int seed = 7);

// The records the pipeline writes for these pages: parsed, normalized and hash-chained,
// envelopes final. Sinks and ceilings write exactly these bytes.
std::vector<Record> finished_audit_records(const std::vector<std::string>& pages);

// The reader stage on its own, in records/s: parse + normalize (the recorded source),
// and the hash chain, timed separately over batches of batch_records that are dropped
// once chained (memory is reused, as in a pass).
struct ReaderRates {
  double normalize = 0;
  double hash_chain = 0;
};
ReaderRates measure_reader_stage(const std::vector<std::string>& pages, size_t batch_records = 2000);

struct PassResult {
  double seconds = 0;
  uint64_t records = 0;
  uint64_t batches = 0;  // sink writes (batches) the pass made
  [[nodiscard]] double rate() const { return seconds > 0 ? static_cast<double>(records) / seconds : 0; }
};

// One pass of the real StreamRunner over the recorded pages (RecordedAuditSource, one
// page per source batch) into `sinks`, batches of `batch_records` (batch_wait long, so
// batches close on records alone), a file dead-letter output and a FileCheckpointStore
// in a fresh temporary directory. Times run_pass() only. Throws on any failure.
PassResult run_recorded_pass(const std::vector<std::string>& pages, const std::vector<Sink*>& sinks,
                             size_t batch_records);

}  // namespace ldx::bench
