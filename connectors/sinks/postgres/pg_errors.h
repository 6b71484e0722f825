// Maps libpqxx exceptions to the three reactions of the data path (core/status.h).
// The component edge catches every library exception and returns one of these; no
// exception crosses into the pipeline.
//
//   retryable  connection lost or refused (also mid-COPY), server shutting down or starting (57P0x),
//              out of resources (53), serialization/deadlock (40), lock timeout,
//              I/O error (58), commit outcome unknown (in_doubt_error)
//   data error one row cannot be stored: data exception (22: bad JSON, \u0000 in
//              jsonb, timestamp out of range), integrity constraint (23), row too
//              big (54)
//   fatal      authentication, missing database, privileges, SQL/schema problems (42)
//              and anything unrecognised: stop loudly rather than loop
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ldx::pg {

ErrorClass classify_sqlstate(std::string_view sqlstate);

// libpq reports a failed connection attempt as text only; these failures will not go
// away by retrying (wrong password, unknown database or role, malformed DSN).
ErrorClass classify_connect_failure(std::string_view message);

// libpq's text for a connection that went away (server restart, network), as it
// appears inside libpqxx's generic failures (a COPY cut short).
bool is_connection_loss(std::string_view message);

// `context` prefixes the message ("postgres sink warehouse, stream audit_log: ").
// Call from inside a catch block handler only with the caught exception. The text is
// scrubbed of every secret remember_secrets() was given: libpq quotes parts of the
// connection string in its errors, also when libpqxx re-opens a broken connection.
Status status_from_exception(const std::exception& e, const std::string& context);

// Replaces each secret (the longest first) found in `text` with "***". Secrets shorter
// than 3 characters are left alone: hiding them would garble every message.
std::string scrub(std::string text, const std::vector<std::string>& secrets);

// Secrets (a DSN's password, the DSN itself) that no error of this process may show;
// pg::connect registers each DSN's. scrub_known_secrets() applies them all.
void remember_secrets(const std::vector<std::string>& secrets);
std::string scrub_known_secrets(std::string text);

// libpq messages end with newlines and may span lines; one line for logs.
std::string one_line(std::string_view message);

}  // namespace ldx::pg
