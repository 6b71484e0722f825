// SQL identifiers that come from config or stream names (schema, table names) are
// validated against a conservative grammar and always double-quoted; values are
// always bound as parameters, never spliced into SQL text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ldx::pg {

// Postgres truncates identifiers longer than NAMEDATALEN-1 = 63 bytes; we reject them
// instead, so `<stream>_history` can never silently collide with another table.
inline constexpr size_t kMaxIdentifierBytes = 63;

// Accepts [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes, not starting with "pg_" (reserved
// for system schemas). `what` names the thing in the error ("schema", "stream").
Status validate_identifier(std::string_view name, std::string_view what);

// "name" with embedded double quotes doubled (validation already excludes them; the
// quoting stays correct on its own).
std::string quote_identifier(std::string_view name);

// "schema"."table"
std::string qualified(std::string_view schema, std::string_view table);

// The advisory-lock key of one (schema, stream) pair: FNV-1a 64 of
// "ldexport/<schema>/<stream>", as a signed bigint for pg_try_advisory_lock(bigint).
// Stable across versions and machines: two daemons must compute the same key.
int64_t writer_lock_key(std::string_view schema, std::string_view stream);

}  // namespace ldx::pg
