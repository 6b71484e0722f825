#include "mock_cluster.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <sstream>

namespace ldx::testing {

namespace {

// The mock brokers leave Nagle's algorithm on; real brokers turn it off. With it on,
// the second small response in a row waits for the client's delayed ACK (~40 ms), so a
// producer that waits for each batch's delivery reports would measure TCP timers, not
// Kafka. Accepted sockets inherit TCP_NODELAY from their listener on Linux, so setting
// it on this process's listening sockets right after the brokers start is enough.
void disable_nagle_on_listeners() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd <= 2) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    int one = 1;
    (void)setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  closedir(d);
}

std::string to_upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::unique_ptr<MockCluster> MockCluster::start(int brokers, std::string* error) {
  std::unique_ptr<MockCluster> c(new MockCluster());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  // This handle only hosts the brokers; keep its "no bootstrap.servers" notice quiet.
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);
  c->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (c->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    if (error) *error = err;
    return nullptr;
  }
  c->mcluster_ = rd_kafka_mock_cluster_new(c->rk_, brokers);
  if (c->mcluster_ == nullptr) {
    if (error) *error = "rd_kafka_mock_cluster_new failed";
    return nullptr;
  }
  c->brokers_ = brokers;
  c->bootstrap_ = rd_kafka_mock_cluster_bootstraps(c->mcluster_);
  disable_nagle_on_listeners();
  return c;
}

MockCluster::~MockCluster() {
  if (mcluster_) rd_kafka_mock_cluster_destroy(mcluster_);
  if (rk_) rd_kafka_destroy(rk_);
}

bool MockCluster::set_down(int broker_id) {
  return rd_kafka_mock_broker_set_down(mcluster_, broker_id) == RD_KAFKA_RESP_ERR_NO_ERROR;
}
bool MockCluster::set_up(int broker_id) {
  return rd_kafka_mock_broker_set_up(mcluster_, broker_id) == RD_KAFKA_RESP_ERR_NO_ERROR;
}
bool MockCluster::set_rtt(int broker_id, int rtt_ms) {
  return rd_kafka_mock_broker_set_rtt(mcluster_, broker_id, rtt_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}
bool MockCluster::create_topic(const std::string& name, int partitions) {
  return rd_kafka_mock_topic_create(mcluster_, name.c_str(), partitions, std::min(brokers_, 3)) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
}
void MockCluster::push_request_errors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(mcluster_, api_key, errors.size(), errors.data());
}
void MockCluster::clear_request_errors(int16_t api_key) { rd_kafka_mock_clear_request_errors(mcluster_, api_key); }

std::optional<rd_kafka_resp_err_t> parse_kafka_error(const std::string& text) {
  char* end = nullptr;
  const long n = std::strtol(text.c_str(), &end, 10);
  if (!text.empty() && end != nullptr && *end == '\0') return static_cast<rd_kafka_resp_err_t>(n);
  const std::string want = to_upper(text);
  const rd_kafka_err_desc* descs = nullptr;
  size_t cnt = 0;
  rd_kafka_get_err_descs(&descs, &cnt);
  for (size_t i = 0; i < cnt; ++i) {
    if (descs[i].name != nullptr && to_upper(descs[i].name) == want) return descs[i].code;
  }
  return std::nullopt;
}

std::string apply_control_command(MockCluster& cluster, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  auto broker_arg = [&](int& id) -> bool {
    std::string b;
    if (!(in >> b)) return false;
    if (b == "all") {
      id = -1;
      return true;
    }
    char* end = nullptr;
    id = static_cast<int>(std::strtol(b.c_str(), &end, 10));
    return end != b.c_str() && *end == '\0' && id >= 1 && id <= cluster.brokers();
  };
  int id = 0;
  if (cmd == "down" || cmd == "up") {
    if (!broker_arg(id)) return "error: usage: " + cmd + " <broker id|all>";
    return (cmd == "down" ? cluster.set_down(id) : cluster.set_up(id)) ? "ok" : "error: no such broker";
  }
  if (cmd == "rtt") {
    int ms = 0;
    if (!broker_arg(id) || !(in >> ms) || ms < 0) return "error: usage: rtt <broker id|all> <ms>";
    return cluster.set_rtt(id, ms) ? "ok" : "error: no such broker";
  }
  if (cmd == "topic") {
    std::string name;
    int parts = 0;
    if (!(in >> name >> parts) || parts < 1) return "error: usage: topic <name> <partitions>";
    return cluster.create_topic(name, parts) ? "ok" : "error: cannot create topic " + name;
  }
  if (cmd == "errors") {
    int api = -1;
    int count = 0;
    std::string code;
    if (!(in >> api >> count >> code) || api < 0 || count < 1) {
      return "error: usage: errors <api key> <count> <error name or code>";
    }
    auto err = parse_kafka_error(code);
    if (!err) return "error: unknown Kafka error '" + code + "'";
    cluster.push_request_errors(static_cast<int16_t>(api), std::vector<rd_kafka_resp_err_t>(count, *err));
    return "ok";
  }
  if (cmd == "clear") {
    int api = -1;
    if (!(in >> api) || api < 0) return "error: usage: clear <api key>";
    cluster.clear_request_errors(static_cast<int16_t>(api));
    return "ok";
  }
  return "error: unknown command '" + cmd + "' (down, up, rtt, topic, errors, clear)";
}

}  // namespace ldx::testing
