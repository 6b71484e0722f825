#include "http/http_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "ldexport_version.h"
#include "telemetry/log_fields.h"

namespace ldx {

namespace {
size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<HeaderMap*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after a redirect or 100-continue)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  (*headers)[name] = std::string(value);
  return size * n;
}

// Path without the query string, for messages (queries can be long; never secret).
std::string describe_target(const std::string& target) {
  return target.size() > 160 ? target.substr(0, 160) + "..." : target;
}
}  // namespace

void HttpClient::CurlDeleter::operator()(void* h) const { curl_easy_cleanup(static_cast<CURL*>(h)); }

HttpClientFactory::HttpClientFactory(const LaunchDarklyConfig& cfg, StopSignal& stop) : cfg_(cfg), stop_(stop) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpClient::HttpClient(const LaunchDarklyConfig& cfg, RateLimitBudget& budget, HttpStats& stats, StopSignal& stop)
    : cfg_(cfg), budget_(budget), stats_(stats), stop_(stop), curl_(curl_easy_init()), rng_(std::random_device{}()) {}

HttpClient::~HttpClient() = default;

Result<std::string> HttpClient::url_for(const std::string& target) const {
  if (target.starts_with("/")) return cfg_.base_url + target;
  // An absolute href is followed only when it points at the configured host: the
  // token must never be sent anywhere else.
  if (target.starts_with(cfg_.base_url + "/")) return target;
  return Status::data_error("refusing to follow a link outside " + cfg_.base_url + ": " + describe_target(target));
}

Status HttpClient::perform_once(const char* method, const std::string& url, const std::string* body,
                                HttpResponse& out) {
  CURL* h = static_cast<CURL*>(curl_.get());
  curl_easy_reset(h);  // keeps the connection cache: connections are reused
  out = HttpResponse{};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.request_timeout.count()));
  // gzip is what LaunchDarkly serves; brotli is left out on purpose: a server that
  // compresses each small page at brotli's default quality spends ~40 ms on it.
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (!cfg_.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, cfg_.ca_bundle.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &out.headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "ldexport/" LDEXPORT_VERSION);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");

  struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
  };
  std::unique_ptr<curl_slist, SlistDeleter> hdrs;
  auto add = [&](const std::string& v) { hdrs.reset(curl_slist_append(hdrs.release(), v.c_str())); };
  add("Authorization: " + cfg_.token);
  add("LD-API-Version: " + cfg_.api_version);
  add("Accept: application/json");
  if (body) {
    add("Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  (void)method;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs.get());

  CURLcode rc = curl_easy_perform(h);
  ++requests_;
  stats_.requests.fetch_add(1);
  if (rc != CURLE_OK) {
    stats_.transport_errors.fetch_add(1);
    // curl_easy_strerror names the failure class only; it never includes headers.
    return Status::retryable(std::string("network error: ") + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  if (out.status >= 500) stats_.status_5xx.fetch_add(1);
  else if (out.status >= 400) stats_.status_4xx.fetch_add(1);
  else stats_.status_2xx.fetch_add(1);
  return Status::ok();
}

Result<HttpResponse> HttpClient::send(const char* method, const std::string& target, const std::string* body,
                                      const std::string& route) {
  auto url = url_for(target);
  if (!url.is_ok()) return url.status();
  const std::string path = describe_target(target);
  const std::string what = std::string(method) + " " + path;
  // Log lines about this request, and errors it returns, carry its path and status.
  LogScope path_scope(LogField::kPath, path);
  long status = 0;
  auto fail = [&](const Status& st) { return st.with_request(path, status); };
  int failures = 0;
  int throttles = 0;
  Status last;
  while (true) {
    if (stop_.stop_requested()) return fail(Status::retryable(what + ": stopping"));
    Millis wait = budget_.reserve(route);
    if (wait.count() > 0) {
      stats_.rate_limit_waits.fetch_add(1);
      stats_.rate_limit_wait_ms.fetch_add(static_cast<uint64_t>(wait.count()));
      spdlog::debug("rate limit: waiting {} ms before {}", wait.count(), what);
      if (!stop_.sleep_for(wait)) return fail(Status::retryable(what + ": stopping"));
    }
    HttpResponse resp;
    Status st = perform_once(method, *url, body, resp);
    status = st.is_ok() ? resp.status : 0;
    if (st.is_ok()) {
      budget_.on_response(route, resp.status, parse_rate_limit_headers(resp.headers));
      if (resp.status == 429) {
        stats_.throttled_429.fetch_add(1);
        // 429s wait as told (in the budget) and do not use up retries, but a storm
        // that never ends is reported after many of them.
        if (++throttles > 1000) return fail(Status::retryable(what + ": still rate limited after 1000 attempts"));
        continue;
      }
      if (resp.status == 401 || resp.status == 403) {
        return fail(Status::fatal(what + ": LaunchDarkly answered " + std::to_string(resp.status) +
                             (resp.status == 401 ? " unauthorized: the access token is missing, wrong or revoked"
                                                 : " forbidden: the access token lacks permission for this resource") +
                             " (check launchdarkly.token)"));
      }
      if (resp.status < 500 && resp.status != 408) return resp;
      last = Status::retryable(what + ": HTTP " + std::to_string(resp.status));
    } else {
      last = st.with_context(what + ": ");
    }
    if (++failures > cfg_.max_retries) {
      return fail(Status::retryable(last.message() + " (gave up after " + std::to_string(failures) + " attempts)"));
    }
    stats_.retries.fetch_add(1);
    int64_t cap = std::min<int64_t>(cfg_.retry_max.count(), cfg_.retry_base.count() << std::min(failures, 20));
    std::uniform_int_distribution<int64_t> dist(cfg_.retry_base.count() / 2, std::max<int64_t>(cap, 1));
    Millis backoff(dist(rng_));
    {
      LogScope status_scope(LogField::kStatus, status > 0 ? std::to_string(status) : std::string());
      spdlog::debug("{}; retry {} in {} ms", last.message(), failures, backoff.count());
    }
    if (!stop_.sleep_for(backoff)) return fail(Status::retryable(what + ": stopping"));
  }
}

Result<HttpResponse> HttpClient::get(const std::string& target, const std::string& route) {
  return send("GET", target, nullptr, route);
}

Result<HttpResponse> HttpClient::post_json(const std::string& target, const std::string& body,
                                           const std::string& route) {
  return send("POST", target, &body, route);
}

}  // namespace ldx
