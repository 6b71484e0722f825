// Offset paging as the LaunchDarkly collections do it (API-NOTES §0, §4): `limit` and
// `offset` query parameters, and `_links` with `self` always plus `first`, `prev`, `next`
// and `last` only when the page they name exists. Hrefs are relative to the base URL and
// repeat the request's own filters, so following `next` as-is walks the same listing.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ldsim {

struct PageLimits {
  std::int64_t default_limit = 20;
  // 0 = no maximum. The spec documents a maximum for a few endpoints only.
  std::int64_t max_limit = 0;
  // Above the maximum: true = serve max_limit items (for endpoints whose spec declares
  // no 400 response), false = 400 invalid_request.
  bool clamp = false;
};

struct PageRequest {
  std::int64_t limit = 20;
  std::int64_t offset = 0;
};

// Reads `limit` and `offset`. On a malformed value writes a 400 into `res` and returns
// nullopt.
std::optional<PageRequest> parse_page_request(const httplib::Request& req, httplib::Response& res,
                                              const PageLimits& limits);

// Query parameters (in order) that a listing's links repeat, besides limit and offset.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// `path?params&limit=L[&offset=O]`, values percent-encoded.
std::string page_href(const std::string& path, const QueryParams& params, std::int64_t limit,
                      std::int64_t offset);

// The `_links` object of an offset-paged collection of `total` items.
nlohmann::ordered_json page_links(const std::string& path, const QueryParams& params,
                                  const PageRequest& page, std::int64_t total);

// {"href": href, "type": type}
nlohmann::ordered_json make_link(const std::string& href, const char* type = "application/json");

// Repeats every value of the query parameter `name` (e.g. env=a&env=b) into `out`.
void keep_param(const httplib::Request& req, const std::string& name, QueryParams& out);

// `filter=field:value,field:value` (the projects/environments/flags/members form) as
// (field, value) pairs, in order. nullopt when a term has no ':'.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_field_filters(
    const std::string& filter);

// Splits on `sep`; "" gives one empty part.
std::vector<std::string> split(const std::string& text, char sep);

// Whether `expand=a,b` names `what`.
bool has_expand(const httplib::Request& req, const std::string& what);

// Whether the document's `tags` hold every tag of a `+`-separated list.
bool has_all_tags(const nlohmann::ordered_json& doc, const std::string& plus_list);

// The [offset, offset+limit) slice bounds of a collection of `total` items.
std::pair<std::size_t, std::size_t> page_bounds(const PageRequest& page, std::size_t total);

}  // namespace ldsim
