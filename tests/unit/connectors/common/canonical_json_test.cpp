#include "common/canonical_json.h"

#include <gtest/gtest.h>

namespace ldx {
namespace {

std::string canon(std::string_view in, const CanonicalOptions& opts = {}) {
  std::string out;
  std::string err;
  if (!append_canonical_json(out, in, opts, &err)) return "ERROR: " + err;
  return out;
}

TEST(CanonicalJson, SortsKeysAtEveryLevelAndDropsWhitespace) {
  EXPECT_EQ(canon(" { \"b\" : 1 ,\n \"a\" : [ { \"d\" : true , \"c\" : null } , 2 ] } "),
            R"({"a":[{"c":null,"d":true},2],"b":1})");
  // Keys compare by UTF-8 bytes: "Z" < "a" < "é".
  EXPECT_EQ(canon(R"({"é":1,"a":2,"Z":3})"), R"({"Z":3,"a":2,"é":1})");
}

TEST(CanonicalJson, SameStringSameForm) {
  // Escaped and raw spellings of one string are one canonical string.
  EXPECT_EQ(canon(R"({"s":"\u00e9\/\n\u0001\"\\"})"), "{\"s\":\"\xC3\xA9/\\n\\u0001\\\"\\\\\"}");
  EXPECT_EQ(canon(R"("\u00e9")"), canon("\"\xC3\xA9\""));
  // A surrogate pair becomes one 4-byte UTF-8 character.
  EXPECT_EQ(canon(R"("\ud83d\ude00")"), "\"\xF0\x9F\x98\x80\"");
}

TEST(CanonicalJson, NumbersStayExactlyAsWritten) {
  EXPECT_EQ(canon(R"({"big":123456789012345678901234567890,"f":1.0,"e":-2.5E+3,"z":0})"),
            R"({"big":123456789012345678901234567890,"e":-2.5E+3,"f":1.0,"z":0})");
  // Two different big numbers never share a form (they would through a double).
  EXPECT_NE(canon("12345678901234567890123"), canon("12345678901234567890124"));
}

TEST(CanonicalJson, RejectsWhatIsNotOneJsonValue) {
  for (const char* bad : {"", "{", R"({"a":1,})", "[1,]", "01", "1.", "-", R"({"a" 1})", "{\"a\":\"x\ny\"}",
                          R"("\ud800")", R"("\x")", "tru", "{} {}", R"({"a":1,"a":2})"}) {
    std::string out;
    EXPECT_FALSE(append_canonical_json(out, bad)) << bad;
    EXPECT_TRUE(out.empty()) << bad;
  }
}

TEST(CanonicalJson, SkipsAndCapturesTopLevelMembersOnly) {
  std::string id;
  std::string observed;
  CanonicalOptions opts;
  opts.skip_top = {"observed_at"};
  opts.capture_top = {{"id", &id}, {"observed_at", &observed}};
  EXPECT_EQ(canon(R"({"observed_at":"T1","id":"a\u0062","data":{"observed_at":"kept"}})", opts),
            R"({"data":{"observed_at":"kept"},"id":"ab"})");
  EXPECT_EQ(id, "ab");
  EXPECT_EQ(observed, "T1");
  // A skipped key still counts for the repeated-key rule.
  std::string out;
  EXPECT_FALSE(append_canonical_json(out, R"({"observed_at":1,"observed_at":2})", opts));
}

TEST(CanonicalJson, DeepNestingIsBounded) {
  std::string deep(600, '[');
  deep += std::string(600, ']');
  std::string out;
  EXPECT_FALSE(append_canonical_json(out, deep));
  std::string ok(100, '[');
  ok += std::string(100, ']');
  EXPECT_TRUE(append_canonical_json(out, ok));
}

}  // namespace
}  // namespace ldx
