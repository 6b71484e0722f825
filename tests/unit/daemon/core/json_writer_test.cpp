#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ldx {
namespace {

// One byte at a time, the way append_json_string escaped before it skipped 8 bytes at
// a time: its output is the contract (every envelope and every record hash uses it).
std::string reference_json_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string escaped(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string hex_of(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
    out.push_back(' ');
  }
  return out;
}

TEST(JsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(escaped("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(escaped("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(escaped("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(escaped(std::string_view("\x00\x01\x1f\x0b", 4)), "\"\\u0000\\u0001\\u001f\\u000b\"");
  EXPECT_EQ(escaped("\x1a"), "\"\\u001a\"");  // lowercase hex
  // DEL, '/' and non-ASCII bytes are written as they are.
  EXPECT_EQ(escaped("\x7f/\xC3\xA9\xff"), "\"\x7f/\xC3\xA9\xff\"");
  EXPECT_EQ(escaped(""), "\"\"");
  // A long run without anything to escape, then one byte that needs it at the end.
  EXPECT_EQ(escaped("abcdefghijklmnopqrstuvwxyz\""), "\"abcdefghijklmnopqrstuvwxyz\\\"\"");
}

TEST(JsonString, AppendsAfterWhatIsAlreadyThere) {
  std::string out = "{\"k\":";
  append_json_string(out, "0123456789\"abcdef");
  EXPECT_EQ(out, "{\"k\":\"0123456789\\\"abcdef\"");
}

// Every byte that needs escaping, at every offset from an 8-byte boundary, in strings
// of every length up to 40, surrounded by bytes that need none (including the ones a
// word-at-a-time test could confuse with them: 0x20, 0x7f, '"' | 0x80, '\\' | 0x80, 0xff).
TEST(JsonString, EqualsTheByteByByteReferenceWhereverTheSpecialByteSits) {
  const std::vector<unsigned char> special = {0x00, 0x01, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1f, '"', '\\'};
  const std::vector<unsigned char> filler = {'a', ' ', '!', '#', '[', ']', 0x7f, 0x80, 0xa2, 0xdc, 0x9f, 0xa0, 0xff};
  for (unsigned char fill : filler) {
    for (size_t len = 1; len <= 40; ++len) {
      const std::string plain(len, static_cast<char>(fill));
      ASSERT_EQ(escaped(plain), reference_json_string(plain)) << hex_of(plain);
      for (size_t pos = 0; pos < len; ++pos) {
        for (unsigned char c : special) {
          std::string s = plain;
          s[pos] = static_cast<char>(c);
          ASSERT_EQ(escaped(s), reference_json_string(s)) << hex_of(s);
        }
      }
    }
  }
}

TEST(JsonString, EqualsTheByteByByteReferenceOnRandomStrings) {
  std::mt19937 rng(20251124);
  // Half the bytes from the ones that matter, half from all 256 values.
  static constexpr char kInteresting[] = "\x00\x01\x1f\x20\"\\\n\r\t\b\f\x7f\x80\xa2\xdc\xff" "a/";
  const std::string interesting(kInteresting, sizeof kInteresting - 1);
  std::uniform_int_distribution<int> len_dist(0, 40);
  std::uniform_int_distribution<int> byte_dist(0, 255);
  std::uniform_int_distribution<size_t> pick(0, interesting.size() - 1);
  std::bernoulli_distribution rare(0.1);
  for (int i = 0; i < 20000; ++i) {
    const int len = len_dist(rng);
    const bool mostly_plain = i % 2 == 0;  // long clean runs with a few special bytes
    std::string s;
    for (int k = 0; k < len; ++k) {
      if (mostly_plain) {
        s.push_back(rare(rng) ? interesting[pick(rng)] : static_cast<char>('a' + k % 26));
      } else {
        s.push_back(byte_dist(rng) % 2 ? interesting[pick(rng)] : static_cast<char>(byte_dist(rng)));
      }
    }
    std::string out = "prefix";
    append_json_string(out, s);
    ASSERT_EQ(out, "prefix" + reference_json_string(s)) << hex_of(s);
  }
}

TEST(JsonNumber, IntegersInDecimalAndDoublesAsSimdjsonMinifiesThem) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc =
      parser.parse(std::string_view("[-9223372036854775808,9223372036854775807,18446744073709551615,"
                                    "9223372036854775808,0,-1,1.5,1e300,-2.5E-3,0.1]"));
  std::vector<simdjson::dom::element> v;
  for (simdjson::dom::element e : doc.get_array()) v.push_back(e);
  ASSERT_EQ(v.size(), 10u);
  auto number = [](simdjson::dom::element e) {
    std::string out = "x";  // appended, after what is there
    append_json_number(out, e);
    return out.substr(1);
  };
  EXPECT_EQ(v[0].type(), simdjson::dom::element_type::INT64);
  EXPECT_EQ(number(v[0]), "-9223372036854775808");
  EXPECT_EQ(number(v[1]), "9223372036854775807");
  EXPECT_EQ(v[2].type(), simdjson::dom::element_type::UINT64);
  EXPECT_EQ(number(v[2]), "18446744073709551615");
  EXPECT_EQ(number(v[3]), "9223372036854775808");
  EXPECT_EQ(number(v[4]), "0");
  EXPECT_EQ(number(v[5]), "-1");
  for (size_t i = 6; i < v.size(); ++i) {
    ASSERT_EQ(v[i].type(), simdjson::dom::element_type::DOUBLE) << i;
    const std::string text = number(v[i]);
    EXPECT_EQ(text, simdjson::minify(v[i])) << i;
    // Shortest round trip: read back, it is the same double.
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), double(v[i])) << text;
  }
  EXPECT_EQ(number(v[6]), "1.5");
}

}  // namespace
}  // namespace ldx
