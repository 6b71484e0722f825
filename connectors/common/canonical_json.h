// The canonical form of a JSON text, the input of every record hash (README "Tamper
// evidence"). It is defined so that anyone can recompute it from an archive line:
//   - no insignificant whitespace;
//   - object members sorted by key, comparing the keys' UTF-8 bytes; a repeated key is
//     an error (the document has no single meaning);
//   - strings re-encoded minimally: only `"`, `\` and control characters are escaped
//     (`\n \r \t \b \f`, others as `\u00XX`), everything else is raw UTF-8, so
//     "\u00e9" and "é" are the same string;
//   - numbers exactly as written (1.0 stays 1.0, big integers keep every digit).
// Numbers are kept verbatim on purpose: re-printing them through a double would let two
// different large numbers share a hash.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_writer.h"

namespace ldx {

struct CanonicalOptions {
  // Top-level object members left out of the canonical form (e.g. "observed_at").
  std::vector<std::string_view> skip_top;
  // Top-level string members whose decoded value is copied out while parsing (one
  // pass reads the line for both its hash and its chain fields). Missing or non-string
  // members leave the target untouched.
  std::vector<std::pair<std::string_view, std::string*>> capture_top;
  // The depth `in` sits at inside a larger document (its limit of 512 levels counts
  // from that document's top), so a member canonicalized on its own fails exactly when
  // the whole document would.
  int depth = 0;
};

// Appends the canonical form of `in` (exactly one JSON value, surrounding whitespace
// allowed) to `out`. Returns false, with a short reason in `error`, when `in` is not
// valid JSON, nests deeper than 512 levels, or repeats a key within one object.
bool append_canonical_json(std::string& out, std::string_view in, const CanonicalOptions& opts = {},
                           std::string* error = nullptr);

// The canonical form of the text append_json_value(v, policy) writes, built straight
// from the parsed value instead of writing that text and reading it again: equal to
// append_canonical_json(<that text>, {.depth = depth}), failing exactly where that fails
// (a key repeated within one object, nesting deeper than 512 levels counted from
// `depth`). Normalizers use it so the hash chain need not parse `data` again.
bool append_canonical_dom(std::string& out, simdjson::dom::element v, const SecretPolicy& policy, int depth = 0,
                          std::string* error = nullptr);

}  // namespace ldx
