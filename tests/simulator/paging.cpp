#include "paging.h"

#include <algorithm>

#include "http_util.h"

namespace ldsim {

std::optional<PageRequest> parse_page_request(const httplib::Request& req, httplib::Response& res,
                                              const PageLimits& limits) {
  PageRequest page;
  page.limit = limits.default_limit;
  if (req.has_param("limit")) {
    const auto v = parse_int64(req.get_param_value("limit"));
    if (!v || *v < 1) {
      set_error(res, 400, "invalid_request", "limit must be a positive integer");
      return std::nullopt;
    }
    page.limit = *v;
    if (limits.max_limit > 0 && *v > limits.max_limit) {
      if (!limits.clamp) {
        set_error(res, 400, "invalid_request",
                  "limit must be at most " + std::to_string(limits.max_limit));
        return std::nullopt;
      }
      page.limit = limits.max_limit;
    }
  }
  if (req.has_param("offset")) {
    const auto v = parse_int64(req.get_param_value("offset"));
    if (!v || *v < 0) {
      set_error(res, 400, "invalid_request", "offset must be a non-negative integer");
      return std::nullopt;
    }
    page.offset = *v;
  }
  // Keeps offset + limit far from overflow; no data set is this large.
  page.limit = std::min<std::int64_t>(page.limit, 1'000'000'000);
  page.offset = std::min<std::int64_t>(page.offset, 1'000'000'000'000);
  return page;
}

std::string page_href(const std::string& path, const QueryParams& params, std::int64_t limit,
                      std::int64_t offset) {
  std::string href = path + "?";
  for (const auto& [name, value] : params) href += name + "=" + url_encode(value) + "&";
  href += "limit=" + std::to_string(limit);
  if (offset > 0) href += "&offset=" + std::to_string(offset);
  return href;
}

nlohmann::ordered_json make_link(const std::string& href, const char* type) {
  nlohmann::ordered_json l;
  l["href"] = href;
  l["type"] = type;
  return l;
}

nlohmann::ordered_json page_links(const std::string& path, const QueryParams& params,
                                  const PageRequest& page, std::int64_t total) {
  const std::int64_t limit = page.limit;
  const std::int64_t offset = page.offset;
  nlohmann::ordered_json links = nlohmann::ordered_json::object();
  if (offset > 0) {
    links["first"] = make_link(page_href(path, params, limit, 0));
    links["prev"] = make_link(page_href(path, params, limit, std::max<std::int64_t>(0, offset - limit)));
  }
  if (offset + limit < total) {
    links["next"] = make_link(page_href(path, params, limit, offset + limit));
  }
  if (total > 0) {
    const std::int64_t last = ((total - 1) / limit) * limit;
    if (last != offset) links["last"] = make_link(page_href(path, params, limit, last));
  }
  links["self"] = make_link(page_href(path, params, limit, offset));
  return links;
}

void keep_param(const httplib::Request& req, const std::string& name, QueryParams& out) {
  const std::size_t n = req.get_param_value_count(name);
  for (std::size_t i = 0; i < n; ++i) out.emplace_back(name, req.get_param_value(name, i));
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_field_filters(
    const std::string& filter) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& term : split(filter, ',')) {
    const auto colon = term.find(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    out.emplace_back(term.substr(0, colon), term.substr(colon + 1));
  }
  return out;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find(sep, start);
    if (end == std::string::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

bool has_expand(const httplib::Request& req, const std::string& what) {
  for (const auto& part : split(req.get_param_value("expand"), ',')) {
    if (part == what) return true;
  }
  return false;
}

bool has_all_tags(const nlohmann::ordered_json& doc, const std::string& plus_list) {
  for (const auto& tag : split(plus_list, '+')) {
    bool found = false;
    for (const auto& t : doc.at("tags")) found = found || t.get_ref<const std::string&>() == tag;
    if (!found) return false;
  }
  return true;
}

std::pair<std::size_t, std::size_t> page_bounds(const PageRequest& page, std::size_t total) {
  const auto begin = std::min(total, static_cast<std::size_t>(page.offset));
  const auto end = std::min(total, begin + static_cast<std::size_t>(page.limit));
  return {begin, end};
}

}  // namespace ldsim
