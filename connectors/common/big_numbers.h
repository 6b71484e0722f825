// Numbers simdjson cannot hold. simdjson 3.0 refuses a whole document for one number
// literal it cannot represent (an integer beyond int64/uint64, a float beyond double's
// range): one such value in an untyped field (API-NOTES §5: triggerBody, flag variation
// values, previousVersion, context attributes) would make its page unreadable, and the
// stream would request that page again forever. Instead the literal is rewritten into a
// marked string so the rest of the page parses; the item that holds it is dead-lettered
// with its original text, and every other item of the page is exported.
#pragma once

#include <string>
#include <string_view>

namespace ldx {

// Rewrites each number literal outside strings that simdjson cannot represent into the
// string "\u0000ldx-number:<literal>"; every other byte is kept. Returns the number of
// literals rewritten (0: `out` is left empty).
size_t rewrite_unrepresentable_numbers(std::string_view json, std::string& out);

// True when minified JSON holds a rewritten literal.
bool has_rewritten_number(std::string_view minified);

// The text with each rewritten literal back as it came (for a dead letter's raw).
std::string restore_rewritten_numbers(std::string_view minified);

// The reason given for such an item.
inline constexpr const char* kUnrepresentableNumberReason =
    "holds a number beyond 64 bits (an integer outside int64/uint64 or a float outside double's range), which "
    "cannot be exported exactly";

}  // namespace ldx
