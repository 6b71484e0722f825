#include "faults.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace ldsim {

const char* fault_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kHttp500:
      return "http_500";
    case FaultKind::kHttp502:
      return "http_502";
    case FaultKind::kHttp503:
      return "http_503";
    case FaultKind::kSlow:
      return "slow";
    case FaultKind::kDrop:
      return "drop";
    case FaultKind::kTruncate:
      return "truncate";
  }
  return "unknown";
}

FaultInjector::FaultInjector(double rate, std::chrono::milliseconds delay_max, std::uint64_t seed)
    : rate_(rate), delay_max_(delay_max), rng_(derive_seed(seed, 0xfa017)) {}

void FaultInjector::set_rate(double rate) {
  std::lock_guard<std::mutex> lock(mu_);
  rate_ = rate;
}

double FaultInjector::rate() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rate_;
}

Fault FaultInjector::draw() {
  std::lock_guard<std::mutex> lock(mu_);
  Fault f;
  if (rate_ <= 0.0 || !rng_.chance(rate_)) return f;
  static constexpr FaultKind kKinds[] = {FaultKind::kHttp500, FaultKind::kHttp502,
                                         FaultKind::kHttp503, FaultKind::kSlow,
                                         FaultKind::kDrop,    FaultKind::kTruncate};
  f.kind = kKinds[rng_.index(std::size(kKinds))];
  const std::int64_t max_ms = std::max<std::int64_t>(1, delay_max_.count());
  f.delay = std::chrono::milliseconds{rng_.range(1, max_ms)};
  f.keep_fraction = 0.1 + 0.8 * rng_.unit();
  return f;
}

namespace {

bool same_endpoint(const sockaddr_storage& a, const std::string& ip, int port) {
  char buf[INET6_ADDRSTRLEN] = {};
  int p = -1;
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    p = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    p = ntohs(in6->sin6_port);
  } else {
    return false;
  }
  return p == port && ip == buf;
}

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
  return -1;
}

}  // namespace

bool drop_connection(const httplib::Request& req, int server_port) {
  const int local_port = req.local_port > 0 ? req.local_port : server_port;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
    if (port_of(local) != local_port) continue;
    sockaddr_storage peer{};
    len = sizeof peer;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    if (!same_endpoint(peer, req.remote_addr, req.remote_port)) continue;
    // Only this request's connection has this address pair, and it stays open until the
    // handler returns, so the descriptor cannot be reused under us.
    shutdown(static_cast<int>(fd), SHUT_RDWR);
    found = true;
    break;
  }
  closedir(dir);
  return found;
}

void truncate_response(httplib::Response& res, double keep_fraction) {
  auto body = std::make_shared<std::string>(std::move(res.body));
  res.body.clear();
  std::string content_type = res.get_header_value("Content-Type");
  if (content_type.empty()) content_type = "application/json";
  res.headers.erase("Content-Type");
  const std::size_t full = body->size();
  std::size_t keep = static_cast<std::size_t>(static_cast<double>(full) * keep_fraction);
  keep = std::min(keep, full > 0 ? full - 1 : 0);
  res.set_content_provider(
      std::max<std::size_t>(full, 1), content_type,
      [body, keep](std::size_t offset, std::size_t /*length*/, httplib::DataSink& sink) {
        if (offset == 0 && keep > 0) sink.write(body->data(), keep);
        return false;  // abort: httplib closes the connection
      });
}

}  // namespace ldsim
