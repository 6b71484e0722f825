#include "common/canonical_json.h"

#include <algorithm>

#include "core/json_writer.h"

namespace ldx {

namespace {

constexpr int kMaxDepth = 512;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class CanonicalParser {
 public:
  CanonicalParser(std::string_view in, const CanonicalOptions& opts) : in_(in), opts_(opts) {}

  bool run(std::string& out) {
    skip_ws();
    if (!value(out, 0)) return false;
    skip_ws();
    if (pos_ != in_.size()) return fail("trailing characters after the JSON value");
    return true;
  }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  bool fail(const char* why) {
    if (error_.empty()) error_ = std::string(why) + " at byte " + std::to_string(pos_);
    return false;
  }
  void skip_ws() {
    while (pos_ < in_.size() && is_ws(in_[pos_])) ++pos_;
  }
  bool eat(char c) {
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool value(std::string& out, int depth) {
    if (pos_ >= in_.size()) return fail("unexpected end");
    switch (in_[pos_]) {
      case '{': return object(out, depth);
      case '[': return array(out, depth);
      case '"': {
        std::string s;
        if (!string(s)) return false;
        append_json_string(out, s);
        return true;
      }
      case 't': return literal(out, "true");
      case 'f': return literal(out, "false");
      case 'n': return literal(out, "null");
      default: return number(out);
    }
  }

  bool literal(std::string& out, std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return fail("invalid literal");
    pos_ += word.size();
    out += word;
    return true;
  }

  bool number(std::string& out) {
    const size_t start = pos_;
    eat('-');
    if (eat('0')) {
      // no leading zeros
    } else if (pos_ < in_.size() && in_[pos_] >= '1' && in_[pos_] <= '9') {
      while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;
    } else {
      return fail("invalid value");
    }
    if (eat('.')) {
      if (pos_ >= in_.size() || !is_digit(in_[pos_])) return fail("invalid number");
      while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;
    }
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (pos_ >= in_.size() || !is_digit(in_[pos_])) return fail("invalid number");
      while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;
    }
    out.append(in_.substr(start, pos_ - start));
    return true;
  }

  bool hex4(uint32_t& v) {
    if (pos_ + 4 > in_.size()) return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = in_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return fail("invalid \\u escape");
      }
    }
    return true;
  }

  // Decodes a string token into `s` (raw UTF-8).
  bool string(std::string& s) {
    ++pos_;  // opening quote
    size_t run = pos_;
    while (true) {
      if (pos_ >= in_.size()) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        s.append(in_.substr(run, pos_ - run));
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("control character in string");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      s.append(in_.substr(run, pos_ - run));
      ++pos_;
      if (pos_ >= in_.size()) return fail("unterminated string");
      const char e = in_[pos_++];
      switch (e) {
        case '"': s.push_back('"'); break;
        case '\\': s.push_back('\\'); break;
        case '/': s.push_back('/'); break;
        case 'b': s.push_back('\b'); break;
        case 'f': s.push_back('\f'); break;
        case 'n': s.push_back('\n'); break;
        case 'r': s.push_back('\r'); break;
        case 't': s.push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (!eat('\\') || !eat('u') || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) {
              return fail("unpaired surrogate in \\u escape");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate in \\u escape");
          }
          append_utf8(s, cp);
          break;
        }
        default: return fail("invalid escape");
      }
      run = pos_;
    }
  }

  bool array(std::string& out, int depth) {
    if (depth >= kMaxDepth) return fail("nested too deeply");
    ++pos_;
    out.push_back('[');
    skip_ws();
    if (eat(']')) {
      out.push_back(']');
      return true;
    }
    while (true) {
      skip_ws();
      if (!value(out, depth + 1)) return false;
      skip_ws();
      if (eat(']')) break;
      if (!eat(',')) return fail("expected ',' or ']'");
      out.push_back(',');
    }
    out.push_back(']');
    return true;
  }

  bool object(std::string& out, int depth) {
    if (depth >= kMaxDepth) return fail("nested too deeply");
    ++pos_;
    struct Member {
      std::string key;
      std::string value;  // canonical
      bool skip = false;  // left out, but still part of the repeated-key check
    };
    std::vector<Member> members;
    skip_ws();
    if (!eat('}')) {
      while (true) {
        skip_ws();
        if (pos_ >= in_.size() || in_[pos_] != '"') return fail("expected a member name");
        std::string key;
        if (!string(key)) return false;
        skip_ws();
        if (!eat(':')) return fail("expected ':'");
        skip_ws();
        bool skip = false;
        std::string* capture = nullptr;
        if (depth == 0) {
          skip = std::find(opts_.skip_top.begin(), opts_.skip_top.end(), key) != opts_.skip_top.end();
          for (const auto& [name, target] : opts_.capture_top) {
            if (name == key) capture = target;
          }
        }
        std::string val;
        if (capture != nullptr && pos_ < in_.size() && in_[pos_] == '"') {
          std::string decoded;
          if (!string(decoded)) return false;
          append_json_string(val, decoded);
          *capture = std::move(decoded);
        } else if (!value(val, depth + 1)) {
          return false;
        }
        members.push_back({std::move(key), std::move(val), skip});
        skip_ws();
        if (eat('}')) break;
        if (!eat(',')) return fail("expected ',' or '}'");
      }
    }
    std::sort(members.begin(), members.end(),
              [](const Member& a, const Member& b) { return a.key < b.key; });
    out.push_back('{');
    bool first = true;
    for (size_t i = 0; i < members.size(); ++i) {
      if (i > 0 && members[i].key == members[i - 1].key) return fail("repeated object key");
      if (members[i].skip) continue;
      if (!first) out.push_back(',');
      first = false;
      append_json_string(out, members[i].key);
      out.push_back(':');
      out += members[i].value;
    }
    out.push_back('}');
    return true;
  }

  std::string_view in_;
  const CanonicalOptions& opts_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

bool append_canonical_json(std::string& out, std::string_view in, const CanonicalOptions& opts, std::string* error) {
  CanonicalParser p(in, opts);
  const size_t mark = out.size();
  if (p.run(out)) return true;
  out.resize(mark);
  if (error != nullptr) *error = p.error();
  return false;
}

}  // namespace ldx
