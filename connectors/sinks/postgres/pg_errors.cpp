#include "sinks/postgres/pg_errors.h"

#include <pqxx/except>

#include <algorithm>
#include <mutex>
#include <set>

namespace ldx::pg {

ErrorClass classify_sqlstate(std::string_view s) {
  if (s.size() != 5) return ErrorClass::kRetryable;  // no SQLSTATE: the connection broke
  const std::string_view cls = s.substr(0, 2);
  if (cls == "08" || cls == "53" || cls == "40" || cls == "58") return ErrorClass::kRetryable;
  if (s == "57P01" || s == "57P02" || s == "57P03" || s == "57P05") return ErrorClass::kRetryable;
  if (s == "55P03" || s == "55006" || s == "57014") return ErrorClass::kRetryable;  // lock/object busy, cancel
  if (cls == "25") return ErrorClass::kRetryable;  // invalid transaction state: start over on a new one
  if (cls == "22" || cls == "23" || cls == "54") return ErrorClass::kDataError;
  return ErrorClass::kFatal;
}

ErrorClass classify_connect_failure(std::string_view m) {
  for (std::string_view permanent :
       {"authentication failed", "does not exist", "no pg_hba.conf entry", "invalid connection option",
        "missing \"=\" after", "invalid URI", "invalid integer value", "invalid sslmode value",
        "permission denied", "invalid percent-encoded token", "forbidden value %00", "unterminated quoted string",
        "key/value separator", "unexpected character", "IPv6 host address"}) {
    if (m.find(permanent) != std::string_view::npos) return ErrorClass::kFatal;
  }
  return ErrorClass::kRetryable;
}

bool is_connection_loss(std::string_view m) {
  for (std::string_view lost :
       {"server closed the connection", "terminating connection", "could not receive data from server",
        "could not send data to server", "no connection to the server", "connection not open",
        "Connection reset by peer", "Broken pipe", "SSL SYSCALL error", "lost synchronization with server",
        "connection to server was lost"}) {
    if (m.find(lost) != std::string_view::npos) return true;
  }
  return false;
}

std::string one_line(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  std::vector<std::string> sorted;
  for (const auto& s : secrets) {
    if (s.size() >= 3) sorted.push_back(s);
  }
  std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& s : sorted) {
    for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 3)) text.replace(at, s.size(), "***");
  }
  return text;
}

namespace {
std::mutex& secrets_mu() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& known_secrets() {
  static std::set<std::string> secrets;
  return secrets;
}
}  // namespace

void remember_secrets(const std::vector<std::string>& secrets) {
  std::lock_guard lock(secrets_mu());
  for (const auto& s : secrets) {
    if (s.size() >= 3) known_secrets().insert(s);
  }
}

std::string scrub_known_secrets(std::string text) {
  std::vector<std::string> secrets;
  {
    std::lock_guard lock(secrets_mu());
    secrets.assign(known_secrets().begin(), known_secrets().end());
  }
  return scrub(std::move(text), secrets);
}

namespace {
Status make(ErrorClass c, std::string msg) {
  switch (c) {
    case ErrorClass::kRetryable:
      return Status::retryable(std::move(msg));
    case ErrorClass::kDataError:
      return Status::data_error(std::move(msg));
    case ErrorClass::kOk:
    case ErrorClass::kFatal:
      break;
  }
  return Status::fatal(std::move(msg));
}
}  // namespace

Status status_from_exception(const std::exception& e, const std::string& context) {
  // Classified on libpq's own words; only the message is scrubbed.
  const std::string raw = one_line(e.what());
  const std::string what = scrub_known_secrets(raw);
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return make(classify_connect_failure(raw), context + "connection: " + what);
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    // The COMMIT may or may not have happened. Retrying is safe: every write is an
    // idempotent upsert and the cursor travels in the same transaction.
    return Status::retryable(context + "commit outcome unknown (connection lost during COMMIT): " + what);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    const std::string& state = sql->sqlstate();
    return make(classify_sqlstate(state), context + what + (state.empty() ? "" : " (SQLSTATE " + state + ")"));
  }
  if (dynamic_cast<const pqxx::failure*>(&e) != nullptr && is_connection_loss(raw)) {
    // libpqxx's own runtime failures carry libpq's text only, e.g. "Write to table
    // failed: server closed the connection unexpectedly" when the server goes away in
    // the middle of a COPY: as retryable as a broken_connection.
    return Status::retryable(context + "connection: " + what);
  }
  // usage_error, conversion_error, std::bad_alloc...: a bug or a broken invariant here.
  return Status::fatal(context + what);
}

}  // namespace ldx::pg
