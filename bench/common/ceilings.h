// The raw ceilings the sink benchmarks measure ldexport against, each writing the same
// finished records (finished_audit_records) with none of the pipeline's work:
//   file      the finished bytes (envelope + '\n') written with write() and made durable
//             with fdatasync() once per batch of the pipeline's size: what `dd
//             oflag=dsync`-style writing of those bytes costs;
//   Kafka     a bare librdkafka producer (acks=all, idempotent) of the same messages;
//   Postgres  `psql -c "\copy ..."` of the same rows into an identical, empty table.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "core/record.h"

namespace ldx::test_support {
class PgCluster;
}

namespace ldx::bench {

inline constexpr size_t kAuditPageSize = 20;  // the audit-log API's maximum page

// The finished records grouped as the stream runner groups them: whole pages of 20
// until a batch holds batch_records records or batch_bytes envelope bytes.
std::vector<std::string> batch_buffers(const std::vector<Record>& records, size_t batch_records,
                                       size_t batch_bytes = 4u << 20);

// Writes the buffers into a new file in `dir` (write(), then fdatasync() per buffer).
// Returns records/s for `records` records; the file is removed afterwards.
double file_ceiling(const std::filesystem::path& dir, const std::vector<std::string>& buffers, size_t records);

struct KafkaMessage {
  std::string key;
  std::string value;
  std::string op;
  std::string prev_hash;  // the hash chain's headers, as the sink sets them
  std::string hash;
};
std::vector<KafkaMessage> kafka_messages(const std::vector<Record>& records);

// A bare producer (acks=all, idempotent, nagle off) produces `msgs` to `topic` with the
// headers the sink sets. window_pages = 0: produce everything, wait for every report at
// the end; N: at most N pages of 20 unacknowledged. linger_ms null: librdkafka's
// default. Returns records/s; exits on a failed delivery.
double kafka_ceiling(const std::string& bootstrap, const std::string& topic, const std::vector<KafkaMessage>& msgs,
                     size_t window_pages, const char* linger_ms);

// The finished rows in COPY text format, columns as the Postgres sink's audit_log table
// (the hash chain's prev_hash and hash included).
std::string copy_text(const std::vector<Record>& records);

// `psql \copy` of copy_file into a fresh schema `schema` of `db` (tables as the sink
// creates them). Returns rows/s; throws when psql fails or the row count differs.
double postgres_ceiling(test_support::PgCluster& pg, const std::string& db, const std::string& schema,
                        const std::string& copy_file, long long expect_rows);

}  // namespace ldx::bench
