// libFuzzer target: arbitrary header lines ("Name: value\n") fed to the rate-limit
// header parser and the shared budget. Never crashes; waits stay bounded.
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/rate_limit_budget.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ldx::HeaderMap headers;
  long status = size % 3 == 0 ? 429 : 200;
  while (!in.empty()) {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      headers[name] = std::string(value);
    }
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  int64_t now = 1'764'000'000'000;
  ldx::RateLimitBudget budget(1, [&] { return now; });
  auto h = ldx::parse_rate_limit_headers(headers);
  if (h.retry_after_s && (*h.retry_after_s < 0 || *h.retry_after_s > 3600)) std::abort();
  budget.on_response("r", status, h);
  for (int i = 0; i < 4; ++i) {
    auto wait = budget.reserve("r");
    // Never negative. A reset header may lie about the future, but Retry-After (at most
    // an hour), the 10 s default and the 429 backoff are bounded, plus the jitter.
    if (wait.count() < 0) std::abort();
    if (!h.reset_ms && wait.count() > 3'600'000 + ldx::RateLimitBudget::kMax429JitterMs) std::abort();
  }
  return 0;
}
