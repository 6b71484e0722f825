// The one place where built-in components are registered: one line each.
#include "registry.h"

#include "checkpoint/file/file_checkpoint_store.h"
#include "checkpoint/postgres/postgres_checkpoint_store.h"
#include "sinks/file/file_sink.h"
#include "sinks/kafka/kafka_sink_config.h"
#include "sinks/postgres/postgres_sink.h"
#include "sources/audit_log/audit_log_source.h"
#include "sources/contexts/contexts_source.h"
#include "sources/environments/environments_source.h"
#include "sources/experiments/experiments_source.h"
#include "sources/flags/flags_source.h"
#include "sources/members/members_source.h"
#include "sources/metrics/metrics_source.h"
#include "sources/projects/projects_source.h"
#include "sources/segments/segments_source.h"
#include "sources/teams/teams_source.h"

namespace ldx {

Catalog builtin_catalog() {
  Catalog c;
  c.streams["audit_log"] = parse_audit_log_config;
  c.streams["projects"] = parse_projects_config;
  c.streams["environments"] = parse_environments_config;
  c.streams["flags"] = parse_flags_config;
  c.streams["segments"] = parse_segments_config;
  c.streams["contexts"] = parse_contexts_config;
  c.streams["members"] = parse_members_config;
  c.streams["teams"] = parse_teams_config;
  c.streams["metrics"] = parse_metrics_config;
  c.streams["experiments"] = parse_experiments_config;
  c.sinks["file"] = parse_file_sink_config;
  c.sinks["kafka"] = parse_kafka_sink_config;
  c.sinks["postgres"] = parse_postgres_sink_config;
  c.checkpoints["file"] = parse_file_checkpoint_config;
  c.checkpoints["postgres"] = parse_postgres_checkpoint_config;
  return c;
}

}  // namespace ldx
