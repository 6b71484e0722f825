#include "sources/entity/entity_client.h"

#include <cctype>

#include "common/big_numbers.h"

namespace ldx {

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string describe_api_error(long status, const std::string& message) {
  return "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message);
}

namespace {
std::string error_message(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element e;
  std::string_view msg;
  if (parser.parse(body).get(e) == simdjson::SUCCESS && e["message"].get(msg) == simdjson::SUCCESS) {
    return std::string(msg.substr(0, 300));
  }
  return {};
}
}  // namespace

Result<ApiAnswer> EntityClient::call(const ApiCall& c) {
  auto resp = c.method == "POST" ? http_->post_json(c.target, c.body, c.route) : http_->get(c.target, c.route);
  if (!resp.is_ok()) return resp.status();
  ApiAnswer a;
  a.status = resp->status;
  a.body_bytes = resp->body.size();
  if (a.status == 200) {
    auto err = parser_.parse(resp->body).get(a.doc);
    if (err == simdjson::NUMBER_ERROR) {
      std::string text;
      if (rewrite_unrepresentable_numbers(resp->body, text) > 0) {
        err = parser_.parse(text).get(a.doc);
        a.rewritten_numbers = err == simdjson::SUCCESS;
      }
    }
    if (err != simdjson::SUCCESS) {
      return Status::retryable(c.describe() + ": response is not valid JSON (" + simdjson::error_message(err) + ")")
          .with_request(c.target, a.status);
    }
    return a;
  }
  a.message = error_message(parser_, resp->body);
  if (a.status == 400 || a.status == 404) return a;
  const std::string what = c.describe() + ": " + describe_api_error(a.status, a.message);
  Status st = Status::retryable(what + " (unexpected status)");
  if (a.status == 409 || a.status == 425 || a.status == 408) st = Status::retryable(what);
  else if (a.status >= 400 && a.status < 500) st = Status::fatal(what);
  return st.with_request(c.target, a.status);
}

}  // namespace ldx
