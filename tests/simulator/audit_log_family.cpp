#include "audit_log_family.h"

#include <cctype>

#include "http_util.h"

namespace ldsim {

namespace {

constexpr int kMaxLimit = 20;
constexpr int kDefaultLimit = 10;

// The `cursor` query parameter of next links: 16 hex digits of the last item's date
// followed by its _id. Clients must treat it as opaque.
std::string encode_position(const AuditPosition& p) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  auto v = static_cast<std::uint64_t>(p.date);
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[v & 0xfU];
    v >>= 4;
  }
  return out + p.id;
}

std::optional<AuditPosition> decode_position(const std::string& s) {
  if (s.size() <= 16) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    const char c = s[i];
    std::uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<std::uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | digit;
  }
  return AuditPosition{static_cast<std::int64_t>(v), s.substr(16)};
}

std::string listing_href(const AuditPageQuery& q, const std::optional<AuditPosition>& position) {
  std::string href = "/api/v2/auditlog?";
  if (q.before) href += "before=" + std::to_string(*q.before) + "&";
  if (q.after) href += "after=" + std::to_string(*q.after) + "&";
  href += "limit=" + std::to_string(q.limit);
  if (!q.q.empty()) href += "&q=" + url_encode(q.q);
  if (!q.spec.empty()) href += "&spec=" + url_encode(q.spec);
  if (position) href += "&cursor=" + url_encode(encode_position(*position));
  return href;
}

nlohmann::ordered_json link(const std::string& href) {
  return {{"href", href}, {"type", "application/json"}};
}

}  // namespace

AuditLogFamily::AuditLogFamily(const AuditLogConfig& config, std::uint64_t seed)
    : config_(config), store_(config, seed) {}

AuditLogFamily::~AuditLogFamily() { stop(); }

void AuditLogFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/auditlog", [this](const httplib::Request& req, httplib::Response& res) {
    list(req, res);
  });
  api.get("/api/v2/auditlog/{id}", [this](const httplib::Request& req, httplib::Response& res) {
    get_one(req, res);
  });
}

void AuditLogFamily::register_control_routes(ControlRouter& control) {
  control.post("/_sim/append", [this](const httplib::Request& req, httplib::Response& res) {
    append(req, res);
  });
  control.post("/_sim/hide", [this](const httplib::Request& req, httplib::Response& res) {
    hide(req, res);
  });
}

nlohmann::json AuditLogFamily::truth() const { return store_.ids(); }

void AuditLogFamily::list(const httplib::Request& req, httplib::Response& res) const {
  AuditPageQuery q;
  q.limit = kDefaultLimit;
  for (const char* name : {"before", "after"}) {
    if (!req.has_param(name)) continue;
    const auto v = parse_int64(req.get_param_value(name));
    if (!v) {
      set_error(res, 400, "invalid_request",
                std::string(name) + " must be a Unix timestamp in milliseconds");
      return;
    }
    (std::string_view(name) == "before" ? q.before : q.after) = *v;
  }
  if (req.has_param("limit")) {
    const auto v = parse_int64(req.get_param_value("limit"));
    if (!v || *v < 1 || *v > kMaxLimit) {
      set_error(res, 400, "invalid_request", "limit must be an integer between 1 and 20");
      return;
    }
    q.limit = static_cast<int>(*v);
  }
  if (req.has_param("q")) q.q = req.get_param_value("q");
  if (req.has_param("spec")) q.spec = req.get_param_value("spec");
  if (req.has_param("cursor")) {
    q.position = decode_position(req.get_param_value("cursor"));
    if (!q.position) {
      set_error(res, 400, "invalid_request", "invalid cursor");
      return;
    }
  }

  AuditPage page = store_.page(q);
  {
    // The next link still points past the page's last entry, so a hidden entry is
    // missed by this traversal and served normally afterwards.
    std::lock_guard<std::mutex> lock(hidden_mu_);
    if (!hidden_once_.empty()) {
      nlohmann::ordered_json kept = nlohmann::ordered_json::array();
      for (auto& item : page.items) {
        if (hidden_once_.erase(item.value("_id", std::string())) == 0) kept.push_back(std::move(item));
      }
      page.items = std::move(kept);
    }
  }
  nlohmann::ordered_json body;
  body["items"] = std::move(page.items);
  nlohmann::ordered_json links;
  links["self"] = link(listing_href(q, q.position));
  if (page.next) links["next"] = link(listing_href(q, page.next));
  body["_links"] = links;
  set_json(res, 200, body);
}

void AuditLogFamily::get_one(const httplib::Request& req, httplib::Response& res) const {
  const std::string id = req.matches[1];
  auto entry = store_.detail(id);
  if (!entry) {
    set_error(res, 404, "not_found", "Unknown audit log entry: " + id);
    return;
  }
  set_json(res, 200, *entry);
}

void AuditLogFamily::append(const httplib::Request& req, httplib::Response& res) {
  std::int64_t n = 1;
  if (req.has_param("n")) {
    const auto v = parse_int64(req.get_param_value("n"));
    if (!v || *v < 1 || *v > 100000) {
      set_error(res, 400, "invalid_request", "n must be an integer between 1 and 100000");
      return;
    }
    n = *v;
  }
  std::int64_t date = now_ms();
  if (req.has_param("date")) {
    const auto v = parse_int64(req.get_param_value("date"));
    if (!v || *v < 0) {
      set_error(res, 400, "invalid_request", "date must be epoch milliseconds");
      return;
    }
    date = *v;
  }
  const auto ids = store_.append(static_cast<std::size_t>(n), date);
  nlohmann::ordered_json body;
  body["appended"] = ids;
  body["date"] = date;
  set_json(res, 200, body);
}

void AuditLogFamily::hide(const httplib::Request& req, httplib::Response& res) {
  const std::size_t n = req.get_param_value_count("id");
  if (n == 0) {
    set_error(res, 400, "invalid_request", "give the entries to hide as id=ID (repeatable)");
    return;
  }
  const auto known = store_.ids();
  const std::unordered_set<std::string> known_set(known.begin(), known.end());
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) {
    std::string id = req.get_param_value("id", i);
    if (known_set.count(id) == 0) {
      set_error(res, 404, "not_found", "Unknown audit log entry: " + id);
      return;
    }
    ids.push_back(std::move(id));
  }
  {
    std::lock_guard<std::mutex> lock(hidden_mu_);
    hidden_once_.insert(ids.begin(), ids.end());
  }
  nlohmann::ordered_json body;
  body["hidden"] = ids;
  set_json(res, 200, body);
}

void AuditLogFamily::start() {
  if (config_.append_every.count() <= 0 || appender_.joinable()) return;
  appender_ = std::thread([this] { appender_loop(); });
}

void AuditLogFamily::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (appender_.joinable()) appender_.join();
}

void AuditLogFamily::appender_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, config_.append_every, [this] { return stopping_; })) {
    lock.unlock();
    store_.append_tick(now_ms(), config_.late_rate);
    lock.lock();
  }
}

}  // namespace ldsim
