// Audit-log entry (list item or {id} detail) -> envelope (ARCHITECTURE §4).
// id = `_id`, occurred_at = `date` (int64 ms), kind = the entry's `kind`, project and
// environment from the target's (or first access's) resource specifier.
// A detail entry (with previousVersion and/or currentVersion) also gets the envelope's
// `changes` list (common/json_diff.h), computed from its redacted data.
#pragma once

#include <simdjson.h>

#include "core/json_writer.h"
#include "core/record.h"
#include "core/status.h"

namespace ldx {

inline constexpr const char* kAuditLogStream = "audit_log";

// A DataError names what is missing; the caller dead-letters the raw bytes.
Result<Record> normalize_audit_entry(simdjson::dom::element entry, const SecretPolicy& policy,
                                     int64_t observed_at_ms);

}  // namespace ldx
