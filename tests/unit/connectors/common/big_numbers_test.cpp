#include "common/big_numbers.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace ldx {
namespace {

bool parses(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  return p.parse(json).get(e) == simdjson::SUCCESS;
}

TEST(BigNumbers, NumbersSimdjsonRefusesAreRewrittenAndTheRestIsKept) {
  const std::string page =
      R"({"items":[{"_id":"ok","n":18446744073709551615,"m":-9223372036854775808,"f":1.5e308,"u":1e-400},)"
      R"({"_id":"big","v":[123456789012345678901234567890,-9223372036854775809,1e400,-0.1e310],"s":"1e400 \"99999999999999999999\""}]})";
  ASSERT_FALSE(parses(page));  // what the API can send, and simdjson 3.0 refuses whole
  std::string out;
  EXPECT_EQ(rewrite_unrepresentable_numbers(page, out), 4u);
  ASSERT_TRUE(parses(out)) << out;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(out).get(doc), simdjson::SUCCESS);
  simdjson::dom::array items;
  ASSERT_EQ(doc["items"].get(items), simdjson::SUCCESS);
  std::vector<std::string> minified;
  for (auto item : items) minified.push_back(simdjson::minify(item));
  ASSERT_EQ(minified.size(), 2u);
  // The representable item is untouched, byte for byte.
  EXPECT_FALSE(has_rewritten_number(minified[0]));
  simdjson::dom::parser alone;
  simdjson::dom::element ok;
  ASSERT_EQ(alone.parse(std::string(R"({"_id":"ok","n":18446744073709551615,"m":-9223372036854775808,"f":1.5e308,"u":1e-400})"))
                .get(ok),
            simdjson::SUCCESS);
  EXPECT_EQ(minified[0], simdjson::minify(ok));
  // The other one is marked, and restores to the text that came (strings untouched).
  EXPECT_TRUE(has_rewritten_number(minified[1]));
  EXPECT_EQ(restore_rewritten_numbers(minified[1]),
            R"({"_id":"big","v":[123456789012345678901234567890,-9223372036854775809,1e400,-0.1e310],"s":"1e400 \"99999999999999999999\""})");
}

TEST(BigNumbers, ADocumentWithNothingToRewriteIsLeftAlone) {
  std::string out = "stale";
  EXPECT_EQ(rewrite_unrepresentable_numbers(R"({"a":[1,-2,3.5e10,"12345678901234567890123"]})", out), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(restore_rewritten_numbers(R"({"a":1})"), R"({"a":1})");
}

}  // namespace
}  // namespace ldx
