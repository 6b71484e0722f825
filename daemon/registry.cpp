// The one place where built-in components are registered: one line each.
#include "registry.h"

#include "checkpoint/file/file_checkpoint_store.h"
#include "checkpoint/postgres/postgres_checkpoint_store.h"
#include "sinks/file/file_sink.h"
#include "sinks/kafka/kafka_sink_config.h"
#include "sinks/postgres/postgres_sink.h"
#include "sources/audit_log/audit_log_source.h"

namespace ldx {

Catalog builtin_catalog() {
  Catalog c;
  c.streams["audit_log"] = parse_audit_log_config;
  c.sinks["file"] = parse_file_sink_config;
  c.sinks["kafka"] = parse_kafka_sink_config;
  c.sinks["postgres"] = parse_postgres_sink_config;
  c.checkpoints["file"] = parse_file_checkpoint_config;
  c.checkpoints["postgres"] = parse_postgres_checkpoint_config;
  return c;
}

}  // namespace ldx
