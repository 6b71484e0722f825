#include "sinks/postgres/pg_connection.h"

#include <libpq-fe.h>
#include <pqxx/nontransaction>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "sinks/postgres/pg_errors.h"

namespace ldx::pg {

namespace {
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t lead = 0;
  while (lead < s.size() && (s[lead] == ' ' || s[lead] == '\t')) ++lead;
  return s.substr(lead);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool is_uri(std::string_view dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Lenient: a malformed escape stays as written.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Offsets of a URI's parts, as far as they can be told apart (also when malformed).
struct UriParts {
  size_t scheme_end = 0;           // just after "://"
  size_t at = std::string::npos;   // the '@' ending the user info, if any
  size_t host_begin = 0;
  size_t path = 0;   // the '/' before the database name, or `query`
  size_t query = 0;  // the '?', or the end
};

UriParts split_uri(std::string_view dsn) {
  UriParts p;
  p.scheme_end = dsn.find("://") + 3;
  p.query = dsn.find('?', p.scheme_end);
  if (p.query == std::string_view::npos) p.query = dsn.size();
  const std::string_view before_query = dsn.substr(0, p.query);
  p.at = before_query.rfind('@');
  if (p.at != std::string_view::npos && p.at < p.scheme_end) p.at = std::string::npos;
  p.host_begin = p.at == std::string::npos ? p.scheme_end : p.at + 1;
  p.path = before_query.find('/', p.host_begin);
  if (p.path == std::string_view::npos) p.path = p.query;
  return p;
}

struct Pair {
  std::string key;
  size_t key_begin = 0;
  size_t value_begin = 0;
  size_t value_end = 0;  // past the closing quote, if quoted
  std::string raw;       // the value as written, without its quotes
  std::string value;     // unescaped
};

// key=value form, tokenized as libpq does; stops where libpq would fail.
std::vector<Pair> split_key_values(std::string_view dsn) {
  std::vector<Pair> out;
  size_t i = 0;
  for (;;) {
    while (i < dsn.size() && is_space(dsn[i])) ++i;
    if (i >= dsn.size()) break;
    Pair p;
    p.key_begin = i;
    while (i < dsn.size() && !is_space(dsn[i]) && dsn[i] != '=') ++i;
    p.key = std::string(dsn.substr(p.key_begin, i - p.key_begin));
    while (i < dsn.size() && is_space(dsn[i])) ++i;
    if (i >= dsn.size() || dsn[i] != '=') break;
    ++i;
    while (i < dsn.size() && is_space(dsn[i])) ++i;
    const bool quoted = i < dsn.size() && dsn[i] == '\'';
    if (quoted) ++i;
    p.value_begin = i;
    while (i < dsn.size()) {
      const char c = dsn[i];
      if (quoted ? c == '\'' : is_space(c)) break;
      if (c == '\\' && i + 1 < dsn.size()) {
        p.value.push_back(dsn[i + 1]);
        i += 2;
        continue;
      }
      p.value.push_back(c);
      ++i;
    }
    p.raw = std::string(dsn.substr(p.value_begin, i - p.value_begin));
    if (quoted && i < dsn.size()) ++i;
    p.value_end = i;
    out.push_back(std::move(p));
  }
  return out;
}

// libpq's option names, to tell a keyword apart from a stray word of a value.
bool is_libpq_keyword(const std::string& key) {
  static const std::set<std::string> keywords = [] {
    std::set<std::string> out;
    if (PQconninfoOption* defaults = PQconndefaults(); defaults != nullptr) {
      for (PQconninfoOption* o = defaults; o->keyword != nullptr; ++o) out.insert(o->keyword);
      PQconninfoFree(defaults);
    }
    return out;
  }();
  return keywords.count(key) != 0;
}

void add_password(std::vector<std::string>& out, const std::string& raw, const std::string& decoded, bool pieces) {
  out.push_back(raw);
  out.push_back(decoded);
  if (!pieces) return;
  // libpq may quote a piece of it (a misplaced delimiter splits it into host, port...).
  for (const std::string* s : {&raw, &decoded}) {
    std::string piece;
    for (size_t i = 0; i <= s->size(); ++i) {
      const char c = i < s->size() ? (*s)[i] : ' ';
      if (is_space(c) || c == '/' || c == '?' || c == '#' || c == '@' || c == ':' || c == '&' || c == '=' ||
          c == '\'' || c == '"') {
        if (piece.size() >= 4 && piece != *s) out.push_back(piece);
        piece.clear();
      } else {
        piece.push_back(c);
      }
    }
  }
}

// Where in the DSN `pos` lies, for a message that must not quote the DSN.
std::string locate(const std::string& dsn, size_t pos, size_t len) {
  if (is_uri(dsn)) {
    const UriParts p = split_uri(dsn);
    if (pos == 0 && len >= dsn.size()) return "the URI as a whole";
    if (pos < p.scheme_end) return "the URI scheme";
    if (p.at != std::string::npos && pos < p.at) {
      const size_t colon = dsn.find(':', p.scheme_end);
      if (colon < p.at && pos > colon) return "the password of the URI (between ':' and '@')";
      return "the user name of the URI";
    }
    if (pos < p.path) return "the host or port of the URI";
    if (pos < p.query) return "the database name of the URI";
    size_t start = dsn.rfind('&', pos);
    start = start == std::string::npos || start < p.query ? p.query + 1 : start + 1;
    const size_t eq = dsn.find('=', start);
    const size_t end = std::min(dsn.find('&', start), dsn.size());
    if (eq < end && pos > eq) {
      const std::string key = dsn.substr(start, eq - start);
      if (is_libpq_keyword(key)) return "the value of URI query parameter '" + key + "'";
    }
    return "the URI query parameters (after '?')";
  }
  const std::vector<Pair> pairs = split_key_values(dsn);  // `last` points into it
  const Pair* last = nullptr;
  for (const auto& pair : pairs) {
    if (pair.key_begin <= pos) last = &pair;
  }
  if (last == nullptr) return "the start of the connection string";
  const std::string key = is_libpq_keyword(last->key) ? "option '" + last->key + "'" : "an option libpq does not know";
  if (pos < last->value_begin) return "the name of " + key;
  if (pos < last->value_end) return "the value of " + key;
  return "the text after the value of " + key + " (a value with spaces must be in single quotes: " +
         (is_libpq_keyword(last->key) ? last->key : std::string("key")) + "='...')";
}

// libpq's message with every quoted value (more than one character: `"="` stays)
// replaced; the first one found in the DSN is `token`.
std::string withhold_quoted(const std::string& message, const std::string& dsn, size_t& token_pos,
                            size_t& token_len) {
  token_pos = std::string::npos;
  token_len = 0;
  // Locate the longest quoted text that is part of the DSN (quotes may nest in it).
  std::vector<size_t> quotes;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '"') quotes.push_back(i);
  }
  for (size_t a = 0; a < quotes.size(); ++a) {
    for (size_t b = a + 1; b < quotes.size(); ++b) {
      const size_t len = quotes[b] - quotes[a] - 1;
      if (len <= 1 || len <= token_len) continue;
      const size_t at = dsn.find(message.substr(quotes[a] + 1, len));
      if (at != std::string::npos) {
        token_pos = at;
        token_len = len;
      }
    }
  }
  std::string out;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] != '"') {
      out.push_back(message[i]);
      continue;
    }
    const size_t close = message.find('"', i + 1);
    if (close == std::string::npos) break;  // unbalanced: what follows may be a value
    if (close == i + 2 && std::ispunct(static_cast<unsigned char>(message[i + 1])) != 0) {
      out.append(message, i, 3);
    } else {
      out += "<value not shown>";
    }
    i = close;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ':')) out.pop_back();
  return out;
}
}  // namespace

std::vector<std::string> dsn_secrets(const std::string& dsn, bool pieces) {
  std::vector<std::string> out{dsn};
  if (is_uri(dsn)) {
    const UriParts p = split_uri(dsn);
    if (p.at != std::string::npos) {
      const size_t colon = dsn.find(':', p.scheme_end);
      if (colon < p.at) {
        const std::string raw = dsn.substr(colon + 1, p.at - colon - 1);
        add_password(out, raw, percent_decode(raw), pieces);
      }
    }
    for (size_t start = p.query + 1; start < dsn.size();) {
      const size_t end = std::min(dsn.find('&', start), dsn.size());
      const std::string param = dsn.substr(start, end - start);
      if (param.rfind("password=", 0) == 0) {
        const std::string raw = param.substr(9);
        add_password(out, raw, percent_decode(raw), pieces);
      }
      start = end + 1;
    }
  } else {
    const auto pairs = split_key_values(dsn);
    for (size_t i = 0; i < pairs.size(); ++i) {
      if (pairs[i].key != "password") continue;
      add_password(out, pairs[i].raw, pairs[i].value, pieces);
      // An unquoted password with a space: libpq stops at the space, the rest is
      // what was meant too (and what its "missing =" error quotes).
      const size_t next = i + 1 < pairs.size() ? pairs[i + 1].key_begin : std::string::npos;
      const std::string rest = trim(dsn.substr(pairs[i].value_begin, next == std::string::npos ? std::string::npos
                                                                                                 : next - pairs[i].value_begin));
      if (rest != pairs[i].raw) add_password(out, rest, rest, pieces);
    }
  }
  // What libpq itself parsed (decoded), should the heuristics above miss a form.
  char* err = nullptr;
  if (PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err); opts != nullptr) {
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
      if (std::string_view(o->keyword) == "password" && o->val != nullptr) add_password(out, o->val, o->val, pieces);
    }
    PQconninfoFree(opts);
  }
  if (err != nullptr) PQfreemem(err);
  return out;
}

Status validate_dsn(const std::string& dsn, const std::string& what) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts != nullptr) {
    PQconninfoFree(opts);
    return Status::ok();
  }
  if (err == nullptr) return Status::fatal("cannot check the " + what + ": out of memory");
  const std::string raw = one_line(err);
  PQfreemem(err);
  const auto secrets = dsn_secrets(dsn);
  size_t pos = std::string::npos;
  size_t len = 0;
  (void)withhold_quoted(raw, dsn, pos, len);  // only to find where in the DSN libpq stopped
  size_t ignored_pos = 0;
  size_t ignored_len = 0;
  const std::string message = withhold_quoted(scrub(raw, secrets), dsn, ignored_pos, ignored_len);
  std::string where = pos == std::string::npos ? std::string() : " in " + locate(dsn, pos, len);
  return Status::fatal(scrub("invalid " + what + where + ": " + message +
                                 " (not a valid libpq connection string or postgresql:// URI; values are not shown)",
                             secrets));
}

Result<std::string> DsnSource::resolve() const {
  if (dsn_file.empty()) return dsn;
  std::ifstream in(dsn_file);
  if (!in) return Status::fatal("cannot read dsn_file '" + dsn_file + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = trim(ss.str());
  if (s.empty()) return Status::fatal("dsn_file '" + dsn_file + "' is empty");
  return s;
}

DsnSource parse_dsn_keys(ConfigNode& node) {
  DsnSource out;
  auto dsn = node.opt_str("dsn");
  auto file = node.opt_str("dsn_file");
  if (dsn && file) {
    node.error_at("dsn_file", "set either dsn or dsn_file, not both");
  } else if (!dsn && !file) {
    node.error("missing dsn: set dsn (e.g. \"postgresql://ldexport@db/warehouse\" or \"${PG_DSN}\") or dsn_file");
  } else if (dsn) {
    out.dsn = trim(*dsn);
    if (out.dsn.empty()) {
      node.error_at("dsn", "the dsn is empty");
    } else if (auto st = validate_dsn(out.dsn); !st.is_ok()) {
      node.error_at("dsn", st.message());  // `validate` reports it too; names the part, never a value
    }
  } else {
    out.dsn_file = *file;
    auto resolved = out.resolve();
    if (!resolved.is_ok()) {
      node.error_at("dsn_file", resolved.status().message());
    } else if (auto st = validate_dsn(resolved.value(), "dsn in dsn_file '" + out.dsn_file + "'"); !st.is_ok()) {
      node.error_at("dsn_file", st.message());
    }
  }
  return out;
}

Result<std::unique_ptr<pqxx::connection>> connect(const DsnSource& source, const std::string& application_name,
                                                   const std::string& context) {
  auto dsn = source.resolve();
  if (!dsn.is_ok()) return dsn.status().with_context(context);
  remember_secrets(dsn_secrets(dsn.value(), /*pieces=*/false));
  const std::string what = source.dsn_file.empty() ? "dsn" : "dsn in dsn_file '" + source.dsn_file + "'";
  if (auto st = validate_dsn(dsn.value(), what); !st.is_ok()) return st.with_context(context);
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn.value());
    pqxx::nontransaction tx(*conn);
    tx.exec_params("SELECT set_config('application_name', $1, false)", application_name);
    return conn;
  } catch (const std::exception& e) {
    return status_from_exception(e, context);
  }
}

std::string describe(pqxx::connection& conn) {
  auto s = [](const char* p) { return std::string(p != nullptr ? p : ""); };
  return s(conn.username()) + "@" + s(conn.hostname()) + ":" + s(conn.port()) + "/" + s(conn.dbname());
}

}  // namespace ldx::pg
