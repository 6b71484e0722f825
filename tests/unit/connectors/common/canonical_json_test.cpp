#include "common/canonical_json.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

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


// append_canonical_dom must give exactly what the slow path gives: write the parsed
// value with append_json_value (secrets redacted), then canonicalize that text. The hash
// chain trusts the audit log's data to be canonical on that promise, and `ldexport
// verify` recomputes every hash the slow way.
struct Verdict {
  bool ok = false;
  std::string out;
  std::string error;
};

Verdict via_text(simdjson::dom::element v, const SecretPolicy& policy, int depth) {
  std::string text;
  append_json_value(text, v, policy);
  CanonicalOptions opts;
  opts.depth = depth;
  Verdict r;
  r.out = "prefix:";
  r.ok = append_canonical_json(r.out, text, opts, &r.error);
  return r;
}

Verdict via_dom(simdjson::dom::element v, const SecretPolicy& policy, int depth) {
  Verdict r;
  r.out = "prefix:";
  r.ok = append_canonical_dom(r.out, v, policy, depth, &r.error);
  return r;
}

// Compares both paths on `json` for both policies and both depths the pipeline uses.
// Returns how many of the four runs succeeded.
int expect_dom_equals_text(std::string_view json, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  const auto err = parser.parse(json.data(), json.size()).get(doc);
  EXPECT_EQ(err, simdjson::SUCCESS) << json;
  if (err != simdjson::SUCCESS) return 0;
  int ok = 0;
  for (bool include_secrets : {false, true}) {
    for (int depth : {0, 1}) {
      const SecretPolicy policy{include_secrets};
      const Verdict text = via_text(doc, policy, depth);
      const Verdict dom = via_dom(doc, policy, depth);
      EXPECT_EQ(dom.ok, text.ok) << "secrets " << include_secrets << ", depth " << depth << ": " << json
                                 << "\ntext path: " << text.error << "\ndom path: " << dom.error;
      // On failure both leave the output as it was.
      EXPECT_EQ(dom.out, text.out) << "secrets " << include_secrets << ", depth " << depth << ": " << json;
      if (!dom.ok) {
        EXPECT_EQ(dom.out, "prefix:") << json;
        EXPECT_FALSE(dom.error.empty()) << json;
      }
      ok += dom.ok ? 1 : 0;
    }
  }
  return ok;
}

std::string canon_dom(std::string_view json, const SecretPolicy& policy, int depth = 0) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json.data(), json.size());
  std::string out;
  std::string err;
  if (!append_canonical_dom(out, doc, policy, depth, &err)) return "ERROR: " + err;
  return out;
}

TEST(CanonicalDom, SortsRedactsAndEscapesLikeTheTextPath) {
  const SecretPolicy redact{};
  EXPECT_EQ(canon_dom(R"({"b":1,"a":[{"d":true,"c":null}],"é":"x","Z":"\u00e9\n"})", redact),
            "{\"Z\":\"\xC3\xA9\\n\",\"a\":[{\"c\":null,\"d\":true}],\"b\":1,\"\xC3\xA9\":\"x\"}");
  EXPECT_EQ(canon_dom(R"({"sdkKey":"abc","apiKey":null,"v":"sdk-11111111-2222-3333-4444-555555555555"})", redact),
            R"({"apiKey":null,"sdkKey":"[REDACTED]","v":"[REDACTED]"})");
  EXPECT_EQ(canon_dom(R"({"sdkKey":"abc","v":"sdk-11111111-2222-3333-4444-555555555555"})", SecretPolicy{true}),
            R"({"sdkKey":"abc","v":"sdk-11111111-2222-3333-4444-555555555555"})");
  // A key repeated in one object has no canonical form, even when spelled differently.
  EXPECT_EQ(canon_dom(R"({"a":1,"b":2,"a":3})", redact).rfind("ERROR: ", 0), 0u);
  EXPECT_EQ(canon_dom(R"([{"a":1,"\u0061":1}])", redact).rfind("ERROR: ", 0), 0u);
  // ... but the same key in two different objects is fine.
  EXPECT_EQ(canon_dom(R"({"x":{"a":1},"y":{"a":2}})", redact), R"({"x":{"a":1},"y":{"a":2}})");
}

TEST(CanonicalDom, EqualsCanonicalizingTheRedactedTextOnHandWrittenDocuments) {
  const std::vector<std::string> docs = {
      "{}",
      "[]",
      "null",
      "true",
      "\"plain\"",
      "-12",
      R"({"b":1,"a":2,"c":{"z":[],"y":{}}})",
      R"([{"d":1,"c":2},[{"b":{"z":0,"a":0}}],"x",null,false])",
      R"({"k\"q":"v\\w","k\nl":"\u0001\u001f\t\b\f\r","\u00e9":1,"é2":2,"z":3,"Z":4,"":5})",
      R"({"é":1,"z":2,"Z":3,"ÿ":4,"😀":5,"\ud83d\ude01":6})",
      R"({"n":[-0,-1,0.5,-2.5e-3,1E+10,1e300,18446744073709551615,9223372036854775807,-9223372036854775808,1.0]})",
      R"({"apiKey":"secret","mobileKey":"mob-11111111-2222-3333-4444-555555555555","sdkKey":{"nested":1},"_sdkKey":[1]})",
      R"({"apiKey":null,"mobileKey":null,"sdkKey":null})",
      R"({"environments":[{"key":"production","apiKey":"sdk-11111111-2222-3333-4444-555555555555","b":2,"a":1}]})",
      R"({"notAKey":"sdk-11111111-2222-3333-4444-555555555555","arr":["mob-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"]})",
      R"({"almost":"sdk-11111111-2222-3333-4444-55555555555z","short":"sdk-1"})",
      R"({"d":[1e308,-1.7976931348623157e308,5e-324,2.2250738585072014e-308,123456789.123456789,0.30000000000000004]})",
      R"({"a\u0000b":1,"a":2,"a\u0000":3,"\u0000":4})",
      R"({"a":1,"a":2})",
      R"({"x":[{"b":1,"c":2,"b":3}]})",
      R"({"a":1,"\u0061":2})",
      R"({"apiKey":"x","apiKey":"y"})",
  };
  simdjson::dom::parser parser;
  for (const std::string& d : docs) expect_dom_equals_text(d, parser);
}

// Random documents: nested up to 6 levels, keys from a small alphabet (so an object
// sometimes repeats one, directly or through an escape), strings with escapes and
// secrets, numbers of every kind.
class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : rng_(seed) {}
  std::string document() {
    std::string out;
    value(out, 0);
    return out;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  void ws(std::string& out) {
    if (pick(4) == 0) out += " \n\t"[pick(3)];
  }
  void value(std::string& out, int depth) {
    ws(out);
    // Always a container at the top, often one near it, never one below 6 levels.
    const int kind = depth == 0 ? pick(4) / 3 : depth >= 6 ? 2 + pick(4) : depth < 3 && pick(2) == 0 ? pick(2) : pick(6);
    switch (kind) {
      case 0: {
        out.push_back('{');
        const int n = pick(6);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out.push_back(',');
          ws(out);
          out += kKeys[static_cast<size_t>(pick(static_cast<int>(std::size(kKeys))))];
          ws(out);
          out.push_back(':');
          value(out, depth + 1);
        }
        ws(out);
        out.push_back('}');
        break;
      }
      case 1: {
        out.push_back('[');
        const int n = pick(5);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out.push_back(',');
          value(out, depth + 1);
        }
        out.push_back(']');
        break;
      }
      case 2: out += kStrings[static_cast<size_t>(pick(static_cast<int>(std::size(kStrings))))]; break;
      case 3: out += kNumbers[static_cast<size_t>(pick(static_cast<int>(std::size(kNumbers))))]; break;
      case 4: {
        // A number of its own: an integer of any size simdjson takes, or a double.
        switch (pick(4)) {
          case 0: out += std::to_string(static_cast<int64_t>(rng_()) - static_cast<int64_t>(rng_())); break;
          case 1: out += std::to_string((static_cast<uint64_t>(rng_()) << 32) | rng_()); break;
          case 2: out += std::to_string(pick(1000)) + "." + std::to_string(pick(1000)) + "e" + std::to_string(pick(40) - 20); break;
          default: out += "-" + std::to_string(pick(100)) + "." + std::to_string(pick(100000)); break;
        }
        break;
      }
      default: out += kLiterals[static_cast<size_t>(pick(3))]; break;
    }
    ws(out);
  }

  static constexpr const char* kKeys[] = {R"("a")", R"("b")", R"("c")", R"("Z")", R"("é")", R"("\u00e9")",
                                          R"("\u0061")", R"("apiKey")", R"("sdkKey")", R"("mobileKey")",
                                          R"("k\"q")", R"("")", R"("a\n")"};
  static constexpr const char* kStrings[] = {
      R"("")", R"("x")", R"("é")", R"("\u00e9\/\n")", R"("\u0000\u001f\\\"")", R"("\ud83d\ude00")",
      R"("sdk-11111111-2222-3333-4444-555555555555")", R"("mob-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")",
      R"("a long string without any escape in it at all")", R"("tab\there")"};
  static constexpr const char* kNumbers[] = {"0", "-0", "1", "-1", "1.5", "-2.5E-3", "1e300", "1E+2", "0.1",
                                             "18446744073709551615", "-9223372036854775808", "1.0", "100"};
  static constexpr const char* kLiterals[] = {"true", "false", "null"};
  std::mt19937 rng_;
};

TEST(CanonicalDom, EqualsCanonicalizingTheRedactedTextOnRandomDocuments) {
  RandomJson gen(424242);
  simdjson::dom::parser parser;
  int succeeded = 0;
  int failed = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string doc = gen.document();
    const int ok = expect_dom_equals_text(doc, parser);
    if (::testing::Test::HasFailure()) FAIL() << "document " << i << ": " << doc;
    succeeded += ok;
    failed += 4 - ok;
  }
  // The generator reaches both verdicts, or the comparison proves little.
  EXPECT_GT(succeeded, 400);
  EXPECT_GT(failed, 200);
}

TEST(CanonicalDom, EqualsCanonicalizingTheRedactedTextOnTheSpecFixtures) {
  const std::string dir = std::string(LDX_SHARED_DIR) + "/launchdarkly/fixtures";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " not found: fixture comparison skipped";
  simdjson::dom::parser parser;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(expect_dom_equals_text(ss.str(), parser), 4);  // the fixtures have a canonical form
    ++files;
  }
  EXPECT_GT(files, 0);
}

// Nested `levels` deep: arrays, objects ({"k":...}) or both alternating.
std::string nested(int levels, int shape) {
  std::string open;
  std::string close;
  for (int i = 0; i < levels; ++i) {
    const bool object = shape == 1 || (shape == 2 && i % 2 == 1);
    open += object ? "{\"k\":" : "[";
    close += object ? "}" : "]";
  }
  std::reverse(close.begin(), close.end());
  return open + "1" + close;
}

TEST(CanonicalDom, NestingLimitCountsFromTheGivenDepthLikeTheTextPath) {
  simdjson::dom::parser parser;
  ASSERT_EQ(parser.allocate(1 << 16, 2048), simdjson::SUCCESS);  // deeper than the 512 tested
  for (int shape : {0, 1, 2}) {
    for (int depth : {0, 1, 7}) {
      const int limit = 512 - depth;  // containers allowed below `depth`
      for (int levels : {limit - 1, limit, limit + 1}) {
        const std::string json = nested(levels, shape);
        simdjson::dom::element doc;
        ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << levels;
        const Verdict text = via_text(doc, SecretPolicy{}, depth);
        const Verdict dom = via_dom(doc, SecretPolicy{}, depth);
        const bool expect_ok = levels <= limit;
        EXPECT_EQ(text.ok, expect_ok) << "shape " << shape << ", depth " << depth << ", levels " << levels;
        EXPECT_EQ(dom.ok, expect_ok) << "shape " << shape << ", depth " << depth << ", levels " << levels;
        EXPECT_EQ(dom.out, text.out) << "shape " << shape << ", depth " << depth << ", levels " << levels;
      }
    }
  }
}

TEST(CanonicalDom, AFailureLeavesTheOutputAsItWas) {
  simdjson::dom::parser parser;
  // The repeated key sits deep, after members already written.
  simdjson::dom::element doc = parser.parse(std::string_view(R"({"a":[1,2,{"x":1}],"b":{"c":{"d":1,"d":2}}})"));
  std::string out = "kept";
  std::string err;
  EXPECT_FALSE(append_canonical_dom(out, doc, SecretPolicy{}, 0, &err));
  EXPECT_EQ(out, "kept");
  EXPECT_NE(err.find("\"d\""), std::string::npos) << err;  // names the key
  const std::string deep = nested(600, 2);
  doc = parser.parse(deep);
  EXPECT_FALSE(append_canonical_dom(out, doc, SecretPolicy{}, 0, &err));
  EXPECT_EQ(out, "kept");
  // And the next call starts clean.
  doc = parser.parse(std::string_view(R"({"b":1,"a":2})"));
  EXPECT_TRUE(append_canonical_dom(out, doc, SecretPolicy{}, 0, nullptr));
  EXPECT_EQ(out, R"(kept{"a":2,"b":1})");
}

}  // namespace
}  // namespace ldx
