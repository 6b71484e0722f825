// Field-level changes between two JSON documents (README "Field-level changes"), used
// for an audit entry's previousVersion -> currentVersion.
//
// The result is a JSON array of {"path", "change", "before", "after"}:
//   path    RFC 6901 JSON Pointer into the documents ("" is the whole document; "~" is
//           written "~0" and "/" "~1" inside a key);
//   change  "added" (no "before"), "removed" (no "after") or "changed" (both);
// Objects are compared member by member (in key order, so the list is deterministic),
// arrays index by index (an element inserted in the middle shows as changes to the
// following indices plus one "added" at the end: LaunchDarkly's rules and clauses are
// positional, so that is also what the index means there). Values of different types,
// or different scalars, are one "changed". Numbers compare by value (1 and 1.0 are equal).
#pragma once

#include <simdjson.h>

#include <string>

namespace ldx {

// `before` / `after` may be null (absent). Appends the array to `out`; values are
// copied as they are (the caller diffs data whose secrets are already redacted).
void append_json_changes(std::string& out, const simdjson::dom::element* before,
                         const simdjson::dom::element* after);

}  // namespace ldx
