#include "common/json_diff.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ldx {
namespace {

// The changes between two documents; "" stands for an absent document.
nlohmann::json changes(const std::string& before, const std::string& after) {
  simdjson::dom::parser pb;
  simdjson::dom::parser pa;
  simdjson::dom::element b;
  simdjson::dom::element a;
  if (!before.empty()) b = pb.parse(before);
  if (!after.empty()) a = pa.parse(after);
  std::string out;
  append_json_changes(out, before.empty() ? nullptr : &b, after.empty() ? nullptr : &a);
  return nlohmann::json::parse(out);
}

nlohmann::json expect(const char* json) { return nlohmann::json::parse(json); }

TEST(JsonDiff, EqualDocumentsHaveNoChanges) {
  EXPECT_EQ(changes(R"({"a":[1,{"b":null}],"c":"x"})", R"({"c":"x","a":[1,{"b":null}]})"), expect("[]"));
  EXPECT_EQ(changes(R"({"n":1})", R"({"n":1.0})"), expect("[]"));  // numbers compare by value
}

TEST(JsonDiff, ChangedScalarInNestedObject) {
  EXPECT_EQ(changes(R"({"environments":{"production":{"on":true,"version":3}}})",
                    R"({"environments":{"production":{"on":false,"version":4}}})"),
            expect(R"([{"path":"/environments/production/on","change":"changed","before":true,"after":false},
                       {"path":"/environments/production/version","change":"changed","before":3,"after":4}])"));
}

TEST(JsonDiff, AddedAndRemovedMembersInKeyOrder) {
  EXPECT_EQ(changes(R"({"a":1,"c":{"x":[1]},"d":null})", R"({"a":1,"b":{"y":2}})"),
            expect(R"([{"path":"/b","change":"added","after":{"y":2}},
                       {"path":"/c","change":"removed","before":{"x":[1]}},
                       {"path":"/d","change":"removed","before":null}])"));
}

TEST(JsonDiff, ValueAddedToAClauseInANestedArray) {
  // The issue's example: a targeting rule edit reads as one added value.
  const char* before = R"({"environments":{"production":{"rules":[
      {"clauses":[{"attribute":"key","values":["a"]}]},
      {"clauses":[{"attribute":"country","values":["de"]}]},
      {"clauses":[{"attribute":"segmentMatch","values":["internal"]}]}]}}})";
  const char* after = R"({"environments":{"production":{"rules":[
      {"clauses":[{"attribute":"key","values":["a"]}]},
      {"clauses":[{"attribute":"country","values":["de"]}]},
      {"clauses":[{"attribute":"segmentMatch","values":["internal","beta-users"]}]}]}}})";
  EXPECT_EQ(changes(before, after),
            expect(R"([{"path":"/environments/production/rules/2/clauses/0/values/1","change":"added",
                        "after":"beta-users"}])"));
}

TEST(JsonDiff, ArraysCompareByIndex) {
  // Removed at the end.
  EXPECT_EQ(changes("[1,2,3]", "[1,2]"), expect(R"([{"path":"/2","change":"removed","before":3}])"));
  // Changed in the middle.
  EXPECT_EQ(changes("[1,2,3]", "[1,9,3]"), expect(R"([{"path":"/1","change":"changed","before":2,"after":9}])"));
  // Inserted at the front: every index after it changes, the last one is added.
  EXPECT_EQ(changes(R"(["x","y"])", R"(["w","x","y"])"),
            expect(R"([{"path":"/0","change":"changed","before":"x","after":"w"},
                       {"path":"/1","change":"changed","before":"y","after":"x"},
                       {"path":"/2","change":"added","after":"y"}])"));
  // An object inside an array removed, another one's member changed.
  EXPECT_EQ(changes(R"({"targets":[{"values":["u1"],"variation":0},{"values":["u2"],"variation":1}]})",
                    R"({"targets":[{"values":["u1","u3"],"variation":0}]})"),
            expect(R"([{"path":"/targets/0/values/1","change":"added","after":"u3"},
                       {"path":"/targets/1","change":"removed","before":{"values":["u2"],"variation":1}}])"));
  // Arrays of arrays.
  EXPECT_EQ(changes("[[1,[2,3]]]", "[[1,[2,4,5]]]"),
            expect(R"([{"path":"/0/1/1","change":"changed","before":3,"after":4},
                       {"path":"/0/1/2","change":"added","after":5}])"));
}

TEST(JsonDiff, DifferentTypesAreOneChange) {
  EXPECT_EQ(changes(R"({"a":[1]})", R"({"a":{"0":1}})"),
            expect(R"([{"path":"/a","change":"changed","before":[1],"after":{"0":1}}])"));
  EXPECT_EQ(changes(R"({"a":"1"})", R"({"a":1})"),
            expect(R"([{"path":"/a","change":"changed","before":"1","after":1}])"));
  EXPECT_EQ(changes(R"({"a":null})", R"({"a":false})"),
            expect(R"([{"path":"/a","change":"changed","before":null,"after":false}])"));
}

TEST(JsonDiff, PointerTokensAreEscaped) {
  // RFC 6901: "~" is "~0", "/" is "~1"; the empty key is an empty token.
  EXPECT_EQ(changes(R"({"a/b":{"m~n":1,"":2}})", R"({"a/b":{"m~n":2,"":3}})"),
            expect(R"([{"path":"/a~1b/","change":"changed","before":2,"after":3},
                       {"path":"/a~1b/m~0n","change":"changed","before":1,"after":2}])"));
}

TEST(JsonDiff, CreatedAndDeletedDocuments) {
  EXPECT_EQ(changes("", R"({"key":"f"})"), expect(R"([{"path":"","change":"added","after":{"key":"f"}}])"));
  EXPECT_EQ(changes(R"({"key":"f"})", ""), expect(R"([{"path":"","change":"removed","before":{"key":"f"}}])"));
  EXPECT_EQ(changes("", ""), expect("[]"));
}

}  // namespace
}  // namespace ldx
