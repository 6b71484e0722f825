#include "common/canonical_json.h"

#include <algorithm>
#include <deque>

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
    if (!value(out, opts_.depth)) return false;
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
        // Fast path: without a backslash the token is already canonical (a control
        // character makes the slow path report the error).
        for (size_t i = pos_ + 1; i < in_.size(); ++i) {
          const auto c = static_cast<unsigned char>(in_[i]);
          if (c == '"') {
            out.append(in_.substr(pos_, i + 1 - pos_));
            pos_ = i + 1;
            return true;
          }
          if (c == '\\' || c < 0x20) break;
        }
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

  // An object is written straight into `out`, member after member; only when its keys
  // are not already in order (or a member is left out) is its text rebuilt, sorted.
  struct Member {
    std::string_view raw_key;  // the key as written, when it has no escape
    std::string decoded_key;   // otherwise, decoded
    bool escaped = false;
    size_t start = 0, end = 0;  // `"key":value` in the output
    bool skip = false;          // left out, but still part of the repeated-key check
    [[nodiscard]] std::string_view key() const { return escaped ? std::string_view(decoded_key) : raw_key; }
  };

  bool key_token(Member& m) {
    for (size_t i = pos_ + 1; i < in_.size(); ++i) {
      const auto c = static_cast<unsigned char>(in_[i]);
      if (c == '"') {
        m.raw_key = in_.substr(pos_ + 1, i - pos_ - 1);
        pos_ = i + 1;
        return true;
      }
      if (c == '\\' || c < 0x20) break;
    }
    m.escaped = true;
    return string(m.decoded_key);
  }

  bool object(std::string& out, int depth) {
    if (depth >= kMaxDepth) return fail("nested too deeply");
    ++pos_;
    if (members_.size() <= static_cast<size_t>(depth)) members_.resize(static_cast<size_t>(depth) + 1);
    std::vector<Member>& members = members_[static_cast<size_t>(depth)];  // stable: a deque
    members.clear();
    const size_t object_start = out.size();
    out.push_back('{');
    bool in_order = true;
    bool any_skip = false;
    skip_ws();
    if (!eat('}')) {
      while (true) {
        skip_ws();
        if (pos_ >= in_.size() || in_[pos_] != '"') return fail("expected a member name");
        Member m;
        if (!key_token(m)) return false;
        skip_ws();
        if (!eat(':')) return fail("expected ':'");
        skip_ws();
        std::string* capture = nullptr;
        if (depth == 0) {
          const std::string_view key = m.key();
          m.skip = std::find(opts_.skip_top.begin(), opts_.skip_top.end(), key) != opts_.skip_top.end();
          for (const auto& [name, target] : opts_.capture_top) {
            if (name == key) capture = target;
          }
        }
        m.start = out.size();
        append_json_string(out, m.key());
        out.push_back(':');
        if (capture != nullptr && pos_ < in_.size() && in_[pos_] == '"') {
          std::string decoded;
          if (!string(decoded)) return false;
          append_json_string(out, decoded);
          *capture = std::move(decoded);
        } else if (!value(out, depth + 1)) {
          return false;
        }
        m.end = out.size();
        any_skip = any_skip || m.skip;
        // Equal keys also leave the fast path, so the sort below reports them.
        if (!members.empty() && !(members.back().key() < m.key())) in_order = false;
        members.push_back(std::move(m));
        skip_ws();
        if (eat('}')) break;
        if (!eat(',')) return fail("expected ',' or '}'");
        out.push_back(',');
      }
    }
    if (in_order && !any_skip) {
      out.push_back('}');
      return true;
    }
    std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) { return a.key() < b.key(); });
    for (size_t i = 1; i < members.size(); ++i) {
      if (members[i].key() == members[i - 1].key()) return fail("repeated object key");
    }
    scratch_.assign(out, object_start, std::string::npos);
    out.resize(object_start);
    out.push_back('{');
    bool first = true;
    for (const Member& m : members) {
      if (m.skip) continue;
      if (!first) out.push_back(',');
      first = false;
      out.append(scratch_, m.start - object_start, m.end - m.start);
    }
    out.push_back('}');
    return true;
  }

  std::deque<std::vector<Member>> members_;  // one list per depth, reused
  std::string scratch_;
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

namespace {

struct DomMember {
  std::string_view key;
  simdjson::dom::element value;
};

// Writes the canonical form of `v` (see append_canonical_dom). Object members are
// gathered on one stack shared by every level (indices, not references: deeper levels
// may grow it), sorted by key bytes, then written in that order.
class CanonicalDomWriter {
 public:
  CanonicalDomWriter(std::string& out, const SecretPolicy& policy, std::vector<DomMember>& stack)
      : out_(out), policy_(policy), stack_(stack) {}

  bool value(simdjson::dom::element v, int depth) {
    switch (v.type()) {
      case simdjson::dom::element_type::OBJECT: return object(simdjson::dom::object(v), depth);
      case simdjson::dom::element_type::ARRAY: {
        if (depth >= kMaxDepth) return fail("nested too deeply");
        out_.push_back('[');
        bool first = true;
        for (simdjson::dom::element item : simdjson::dom::array(v)) {
          if (!first) out_.push_back(',');
          first = false;
          if (!value(item, depth + 1)) return false;
        }
        out_.push_back(']');
        return true;
      }
      case simdjson::dom::element_type::STRING: {
        const std::string_view s(v);
        append_json_string(out_, policy_.is_secret_value(s) ? kRedactionMarker : s);
        return true;
      }
      case simdjson::dom::element_type::BOOL: out_ += bool(v) ? "true" : "false"; return true;
      case simdjson::dom::element_type::NULL_VALUE: out_ += "null"; return true;
      default: append_json_number(out_, v); return true;
    }
  }

  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  using Member = DomMember;

  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  bool object(simdjson::dom::object obj, int depth) {
    if (depth >= kMaxDepth) return fail("nested too deeply");
    const size_t base = stack_.size();
    bool in_order = true;
    for (simdjson::dom::key_value_pair field : obj) {
      if (stack_.size() > base && !(stack_.back().key < field.key)) in_order = false;
      stack_.push_back(Member{field.key, field.value});
    }
    const auto begin = stack_.begin() + static_cast<std::ptrdiff_t>(base);
    if (!in_order) {
      std::sort(begin, stack_.end(), [](const Member& a, const Member& b) { return a.key < b.key; });
      for (auto it = begin + 1; it < stack_.end(); ++it) {
        if (it->key == (it - 1)->key) return fail("repeated object key \"" + std::string(it->key) + "\"");
      }
    }
    out_.push_back('{');
    const size_t end = stack_.size();
    for (size_t i = base; i < end; ++i) {
      if (i != base) out_.push_back(',');
      const Member m = stack_[i];  // a copy: the recursion below may grow the stack
      append_json_string(out_, m.key);
      out_.push_back(':');
      if (policy_.is_secret_key(m.key) && !m.value.is_null()) {
        append_json_string(out_, kRedactionMarker);
      } else if (!value(m.value, depth + 1)) {
        return false;
      }
    }
    out_.push_back('}');
    stack_.resize(base);
    return true;
  }

  std::string& out_;
  const SecretPolicy& policy_;
  std::vector<Member>& stack_;
  std::string error_;
};

}  // namespace

bool append_canonical_dom(std::string& out, simdjson::dom::element v, const SecretPolicy& policy, int depth,
                          std::string* error) {
  thread_local std::vector<DomMember> stack;  // reused: no allocation per record
  stack.clear();
  CanonicalDomWriter w(out, policy, stack);
  const size_t mark = out.size();
  if (w.value(v, depth)) return true;
  out.resize(mark);
  if (error != nullptr) *error = w.error();
  return false;
}

}  // namespace ldx
