#include "kafka_test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "sinks/kafka/kafka_handles.h"

namespace ldx::testing {

std::vector<ConsumedMessage> consume_topic(const std::string& bootstrap, const std::string& topic,
                                           bool read_committed, std::chrono::seconds limit) {
  char err[512];
  kafka::Conf conf(rd_kafka_conf_new());
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf.get(), k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::runtime_error(std::string(k) + ": " + err);
  };
  set("bootstrap.servers", bootstrap);
  set("group.id", "ldx-test-reader-" + unique_suffix());
  set("enable.auto.commit", "false");
  set("enable.partition.eof", "true");
  set("isolation.level", read_committed ? "read_committed" : "read_uncommitted");
  set("log_level", "3");
  kafka::Client c(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
  if (!c) throw std::runtime_error(std::string("consumer: ") + err);

  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(c.get(), 1, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("metadata failed");
  kafka::Metadata owner(md);
  int partitions = 0;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic == md->topics[i].topic) partitions = md->topics[i].partition_cnt;
  }
  std::vector<ConsumedMessage> out;
  if (partitions == 0) return out;
  kafka::PartitionList parts(rd_kafka_topic_partition_list_new(partitions));
  std::set<int32_t> open;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t lo = 0;
    int64_t hi = 0;
    if (rd_kafka_query_watermark_offsets(c.get(), topic.c_str(), p, &lo, &hi, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error("watermarks failed");
    if (hi <= lo) continue;
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    open.insert(p);
  }
  if (open.empty()) return out;
  rd_kafka_assign(c.get(), parts.get());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!open.empty()) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("reading " + topic + " timed out");
    kafka::Message m(rd_kafka_consumer_poll(c.get(), 200));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      open.erase(m->partition);
      continue;
    }
    if (m->err) continue;
    ConsumedMessage cm;
    cm.topic = topic;
    cm.partition = m->partition;
    cm.offset = m->offset;
    if (m->key) cm.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) cm.value = std::string(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      size_t idx = 0;
      const char* name = nullptr;
      const void* val = nullptr;
      size_t size = 0;
      while (rd_kafka_header_get_all(hdrs, idx++, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        cm.headers[name] = val ? std::string(static_cast<const char*>(val), size) : "";
      }
    }
    out.push_back(std::move(cm));
  }
  rd_kafka_consumer_close(c.get());
  return out;
}

std::optional<std::map<std::string, int>> committed_ids_from_checkpoints(
    const std::vector<ConsumedMessage>& checkpoint_topic, const std::string& stream, std::string* why) {
  // Attempts of one transaction number are sequential, and number N+1 starts only after
  // N committed, so the last record seen for each number is the committed one.
  std::map<uint64_t, CheckpointRecord> by_txn;
  for (const auto& m : checkpoint_topic) {
    if (m.key != stream || !m.value) continue;
    auto r = CheckpointRecord::from_json(*m.value);
    if (!r.is_ok()) {
      if (why) *why = r.status().message();
      return std::nullopt;
    }
    by_txn[r->txn] = r.value();
  }
  std::map<std::string, int> counts;
  uint64_t expect = 1;
  for (const auto& [txn, rec] : by_txn) {
    if (txn != expect) {
      if (why) *why = "transaction numbers jump from " + std::to_string(expect - 1) + " to " + std::to_string(txn);
      return std::nullopt;
    }
    ++expect;
    for (const auto& e : rec.written) counts[e.id] += 1;
  }
  return counts;
}

Record make_record(const std::string& stream, const std::string& id, Op op) {
  Record r;
  r.stream = stream;
  r.id = id;
  r.op = op;
  r.kind = "flag";
  r.project = "default";
  r.environment = "production";
  r.occurred_at_ms = 1700000000000;
  r.observed_at_ms = 1700000001000;
  r.data = "{\"_id\":\"" + id + "\",\"name\":\"entry " + id + "\"}";
  r.finish();
  return r;
}

Batch make_batch(const std::string& stream, const std::vector<std::string>& ids, uint64_t sequence) {
  Batch b;
  b.stream = stream;
  b.sequence = sequence;
  b.cursor = {{"batch", sequence}};
  for (const auto& id : ids) b.records.push_back(make_record(stream, id));
  return b;
}

Child::Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
             const std::string& log_file, bool all_output_to_log) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    if (!log_file.empty()) {
      int lf = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (lf >= 0) dup2(lf, STDERR_FILENO);
      if (lf >= 0 && all_output_to_log) dup2(lf, STDOUT_FILENO);
    }
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
}

Child::~Child() {
  if (!status_ && pid_ > 0) kill_hard();
  if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd pfd{out_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char tmp[4096];
    ssize_t n = read(out_fd_, tmp, sizeof tmp);
    if (n <= 0) return std::nullopt;
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

void Child::kill_hard() {
  if (status_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  (void)wait(std::chrono::seconds(30));
}

void Child::terminate() {
  if (!status_ && pid_ > 0) ::kill(pid_, SIGTERM);
}

std::optional<int> Child::wait(std::chrono::milliseconds limit) {
  if (status_) return status_;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string http_get_body(const std::string& host_port, const std::string& path) {
  const auto colon = host_port.rfind(':');
  const std::string host = host_port.substr(0, colon);
  const int port = std::stoi(host_port.substr(colon + 1));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("connect " + host_port + " failed");
  }
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host_port + "\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string resp;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  const auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

std::vector<std::string> json_string_array(const std::string& json) {
  return nlohmann::json::parse(json).get<std::vector<std::string>>();
}

std::string unique_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(getpid()) + "-" + std::to_string(rng() % 1000000000);
}

}  // namespace ldx::testing
