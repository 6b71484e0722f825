#include "sinks/kafka/kafka_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "core/time_util.h"
#include "telemetry/log_fields.h"

namespace ldx {

namespace {
constexpr int kPollMs = 100;
// Below librdkafka's and Kafka's default message.max.bytes (1000000).
constexpr size_t kMaxCheckpointBytes = 900'000;

int to_ms(Millis d) { return static_cast<int>(std::min<int64_t>(d.count(), INT32_MAX)); }

// Delivery errors that no retry can fix: the stream stops with the reason.
bool permanent_delivery_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return true;
    default:
      return false;
  }
}

std::string error_hint(rd_kafka_resp_err_t err, const std::string& topic) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return " (a record is larger than the producer's message.max.bytes or the topic's max.message.bytes)";
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      return " (does topic " + topic + " exist? the brokers may not create topics automatically)";
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      return " (the credentials in properties may not write to " + topic + ")";
    default:
      return "";
  }
}
}  // namespace

// Counts the delivery reports of one write(). Lives on write()'s stack: write() returns
// only after every message it produced has reported (delivered, failed or purged), so
// no report can reach a dead tracker and no value buffer (not copied) is freed early.
struct KafkaSink::DeliveryTracker {
  std::atomic<size_t> outstanding{0};
  std::atomic<size_t> failed{0};
  std::mutex mu;
  rd_kafka_resp_err_t first_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string first_topic;
};

KafkaSink::KafkaSink(const KafkaSinkConfig& cfg, StopSignal& stop)
    : cfg_(cfg), txn_id_(cfg.effective_transactional_id()), stop_(stop) {}

KafkaSink::~KafkaSink() { (void)close(); }

void KafkaSink::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* /*opaque*/) {
  auto* t = static_cast<DeliveryTracker*>(msg->_private);
  if (t == nullptr) return;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::lock_guard lock(t->mu);
    if (t->first_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      t->first_err = msg->err;
      t->first_topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "";
    }
    t->failed.fetch_add(1);
  }
  // Last: after this the writer may return and the tracker is gone.
  t->outstanding.fetch_sub(1, std::memory_order_acq_rel);
}

void KafkaSink::on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* self = static_cast<KafkaSink*>(rd_kafka_opaque(rk));
  const std::string& name = self ? self->cfg_.name : std::string();
  LogScope sink_scope(LogField::kSink, name);  // librdkafka's own threads
  // Property-scope notes ("a producer property ignored by this consumer") are expected:
  // the checkpoint reader gets the user's properties for SASL/SSL.
  if (std::string_view(fac) == "CONFWARN") level = 7;
  if (level <= 3) {
    spdlog::error("kafka sink {}: {}: {}", name, fac, buf);
  } else if (level == 4) {
    spdlog::warn("kafka sink {}: {}: {}", name, fac, buf);
  } else if (level == 5) {
    spdlog::info("kafka sink {}: {}: {}", name, fac, buf);
  } else {
    spdlog::debug("kafka sink {}: {}: {}", name, fac, buf);
  }
}

void KafkaSink::on_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  LogScope sink_scope(LogField::kSink, self->cfg_.name);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    spdlog::error("kafka sink {}: fatal producer error: {}", self->cfg_.name, reason);
  } else {
    // Brokers going away and coming back are expected: librdkafka reconnects and
    // retries; write() holds the batch until every report is in.
    spdlog::warn("kafka sink {}: {}", self->cfg_.name, reason);
  }
}

Result<kafka::Conf> KafkaSink::client_conf(bool consumer) const {
  kafka::Conf conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::fatal("kafka sink " + cfg_.name + ": property " + k + "=" + v + ": " + err);
    }
    return Status::ok();
  };
  std::vector<std::pair<std::string, std::string>> props;
  props.reserve(cfg_.properties.size() + 12);
  props.emplace_back("bootstrap.servers", cfg_.brokers);
  props.emplace_back("client.id", "ldexport-" + cfg_.name);
  if (!consumer) {
    // write() waits for each batch's reports, so lingering only adds latency; Nagle
    // would hold the small requests of a batch behind a delayed ACK.
    props.emplace_back("linger.ms", "0");
    props.emplace_back("socket.nagle.disable", "true");
    // A full queue is back-pressure (write() polls and retries), so it can be small.
    props.emplace_back("queue.buffering.max.kbytes", "65536");
  }
  for (const auto& p : cfg_.properties) props.push_back(p);
  if (!consumer) {
    // After the user's properties, so nothing can weaken them (the parser rejects it too).
    props.emplace_back("acks", "all");
    props.emplace_back("enable.idempotence", "true");
    if (cfg_.exactly_once) props.emplace_back("transactional.id", txn_id_);
  } else {
    props.emplace_back("group.id", txn_id_ + ".checkpoint-reader");
    props.emplace_back("enable.auto.commit", "false");
    props.emplace_back("enable.partition.eof", "true");
    props.emplace_back("auto.offset.reset", "earliest");
    props.emplace_back("isolation.level", "read_committed");
  }
  for (const auto& [k, v] : props) {
    if (auto s = set(k, v); !s.is_ok()) return s;
  }
  rd_kafka_conf_set_opaque(conf.get(), const_cast<KafkaSink*>(this));
  rd_kafka_conf_set_log_cb(conf.get(), &KafkaSink::on_log);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::on_error);
  if (!consumer) rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::on_delivery);
  return conf;
}

Status KafkaSink::fatal_status() const {
  std::lock_guard lock(fatal_mu_);
  return Status::fatal(fatal_msg_);
}

void KafkaSink::set_fatal(const std::string& msg) {
  {
    std::lock_guard lock(fatal_mu_);
    if (!fatal_.load()) fatal_msg_ = msg;
  }
  fatal_.store(true);
  spdlog::error("{}", msg);
}

Status KafkaSink::open() {
  auto conf = client_conf(false);
  if (!conf.is_ok()) return conf.status();
  char err[512];
  producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.value().release(), err, sizeof err));
  if (!producer_) return Status::fatal("kafka sink " + cfg_.name + ": cannot create the producer: " + err);

  // Connect and check (Vector-style healthcheck): all-topics metadata creates nothing.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t merr = rd_kafka_metadata(producer_.get(), 1, nullptr, &md, to_ms(cfg_.timeout));
  kafka::Metadata md_owner(md);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable(fmt::format("kafka sink {}: cannot reach the brokers {} within {}: {}", cfg_.name,
                                         cfg_.brokers, format_duration(cfg_.timeout), rd_kafka_err2str(merr)));
  }
  if (!cfg_.exactly_once) return Status::ok();

  // Fences any earlier producer with this transactional.id and aborts its open
  // transaction, so the read-back in recover() sees only committed checkpoints.
  kafka::Error e(rd_kafka_init_transactions(producer_.get(), to_ms(cfg_.timeout)));
  if (e) return transaction_error(e.get(), "initializing transactions (transactional.id " + txn_id_ + ")");
  return ensure_checkpoint_topic();
}

Status KafkaSink::ensure_checkpoint_topic() {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t merr = rd_kafka_metadata(producer_.get(), 1, nullptr, &md, to_ms(cfg_.timeout));
  kafka::Metadata md_owner(md);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable("kafka sink " + cfg_.name + ": metadata: " + rd_kafka_err2str(merr));
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (cfg_.checkpoint_topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      return Status::ok();
  }
  // Compacted: only the newest checkpoint per stream matters.
  char err[512];
  std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> nt(
      rd_kafka_NewTopic_new(cfg_.checkpoint_topic.c_str(), 1, -1, err, sizeof err), &rd_kafka_NewTopic_destroy);
  if (!nt) return Status::fatal("kafka sink " + cfg_.name + ": checkpoint topic: " + err);
  (void)rd_kafka_NewTopic_set_config(nt.get(), "cleanup.policy", "compact");
  kafka::Queue q(rd_kafka_queue_new(producer_.get()));
  rd_kafka_NewTopic_t* topics[] = {nt.get()};
  // Brokers without CreateTopics (librdkafka's mock) never answer: keep the wait short.
  const int wait_ms = std::min(to_ms(cfg_.timeout), 5000);
  std::unique_ptr<rd_kafka_AdminOptions_t, decltype(&rd_kafka_AdminOptions_destroy)> opts(
      rd_kafka_AdminOptions_new(producer_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS), &rd_kafka_AdminOptions_destroy);
  (void)rd_kafka_AdminOptions_set_request_timeout(opts.get(), wait_ms, err, sizeof err);
  rd_kafka_CreateTopics(producer_.get(), topics, 1, opts.get(), q.get());
  kafka::Event ev(rd_kafka_queue_poll(q.get(), wait_ms + 1000));
  std::string problem;
  if (!ev) {
    problem = "no answer";
  } else if (rd_kafka_event_error(ev.get())) {
    problem = rd_kafka_event_error_string(ev.get());
  } else if (const auto* res = rd_kafka_event_CreateTopics_result(ev.get())) {
    size_t n = 0;
    const rd_kafka_topic_result_t** tr = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      auto code = rd_kafka_topic_result_error(tr[i]);
      if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        problem = rd_kafka_topic_result_error_string(tr[i]) ? rd_kafka_topic_result_error_string(tr[i])
                                                            : rd_kafka_err2str(code);
      }
    }
  }
  if (!problem.empty()) {
    // Not fatal: the topic may be created by the broker on first use. Say what to do.
    spdlog::warn("kafka sink {}: could not create the checkpoint topic {} ({}); create it with "
                 "cleanup.policy=compact, or the broker's automatic creation will make an uncompacted one",
                 cfg_.name, cfg_.checkpoint_topic, problem);
  }
  return Status::ok();
}

Status KafkaSink::load_checkpoints() {
  auto conf = client_conf(true);
  if (!conf.is_ok()) return conf.status();
  char err[512];
  kafka::Client consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().release(), err, sizeof err));
  if (!consumer) return Status::fatal("kafka sink " + cfg_.name + ": cannot create the checkpoint reader: " + err);

  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t merr = rd_kafka_metadata(consumer.get(), 1, nullptr, &md, to_ms(cfg_.timeout));
  kafka::Metadata md_owner(md);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable("kafka sink " + cfg_.name + ": reading checkpoints: metadata: " + rd_kafka_err2str(merr));
  }
  int partitions = 0;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (cfg_.checkpoint_topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      partitions = md->topics[i].partition_cnt;
  }
  checkpoint_latest_.clear();
  if (partitions == 0) {  // never written: nothing committed yet
    checkpoints_loaded_ = true;
    consumer.reset();
    return Status::ok();
  }
  kafka::PartitionList parts(rd_kafka_topic_partition_list_new(partitions));
  std::set<int32_t> open_parts;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t lo = 0;
    int64_t hi = 0;
    merr = rd_kafka_query_watermark_offsets(consumer.get(), cfg_.checkpoint_topic.c_str(), p, &lo, &hi,
                                            to_ms(cfg_.timeout));
    if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::retryable("kafka sink " + cfg_.name + ": reading checkpoints: offsets of " +
                               cfg_.checkpoint_topic + ": " + rd_kafka_err2str(merr));
    }
    if (hi <= lo) continue;  // empty partition
    rd_kafka_topic_partition_list_add(parts.get(), cfg_.checkpoint_topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    open_parts.insert(p);
  }
  if (!open_parts.empty()) {
    if (auto aerr = rd_kafka_assign(consumer.get(), parts.get()); aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::retryable("kafka sink " + cfg_.name + ": reading checkpoints: " + rd_kafka_err2str(aerr));
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + cfg_.timeout;
  Status result = Status::ok();
  while (!open_parts.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      result = Status::retryable(fmt::format("kafka sink {}: could not read the checkpoint topic {} to its end "
                                             "within {} (read_committed waits for open transactions)",
                                             cfg_.name, cfg_.checkpoint_topic, format_duration(cfg_.timeout)));
      break;
    }
    if (stop_.stop_requested()) {
      result = Status::retryable("stopping while reading the checkpoint topic");
      break;
    }
    kafka::Message m(rd_kafka_consumer_poll(consumer.get(), kPollMs));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      open_parts.erase(m->partition);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka sink {}: reading checkpoints: {}", cfg_.name, rd_kafka_message_errstr(m.get()));
      continue;
    }
    std::string key(static_cast<const char*>(m->key), m->key_len);
    if (m->payload == nullptr) {  // a tombstone: an operator reset this stream's checkpoint
      checkpoint_latest_.erase(key);
      continue;
    }
    auto rec = CheckpointRecord::from_json(std::string_view(static_cast<const char*>(m->payload), m->len));
    if (!rec.is_ok()) {
      result = rec.status().with_context("kafka sink " + cfg_.name + ": checkpoint topic " + cfg_.checkpoint_topic +
                                         ", key " + key + ": ");
      break;
    }
    checkpoint_latest_[key] = std::move(rec.value());
  }
  rd_kafka_consumer_close(consumer.get());
  if (result.is_ok()) checkpoints_loaded_ = true;
  return result;
}

KafkaSink::StreamState* KafkaSink::stream_state(const std::string& stream) {
  std::lock_guard lock(streams_mu_);
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

Status KafkaSink::recover(const std::string& stream, const nlohmann::json& committed_position) {
  if (!producer_) return Status::fatal("kafka sink " + cfg_.name + ": recover() before open()");
  auto st = std::make_unique<StreamState>();
  st->topic = expand_topic_template(cfg_.topic, stream);
  if (cfg_.exactly_once) {
    std::lock_guard lock(txn_mu_);
    if (!checkpoints_loaded_) {
      if (auto s = load_checkpoints(); !s.is_ok()) return s;
    }
    // checkpoint_latest_ is read once, then kept current by every commit, so a second
    // recover() in the same process sees what this process committed since.
    std::optional<CheckpointRecord> latest;
    if (auto it = checkpoint_latest_.find(stream); it != checkpoint_latest_.end()) latest = it->second;
    if (latest && latest->transactional_id != txn_id_) {
      return Status::fatal(fmt::format(
          "kafka sink {}: the checkpoint topic {} holds stream {} for transactional_id '{}', not '{}': two "
          "exporters share it; give each its own checkpoint_topic (or keep the old transactional_id)",
          cfg_.name, cfg_.checkpoint_topic, stream, latest->transactional_id, txn_id_));
    }
    if (auto w = st->guard.restore(latest, committed_position)) {
      spdlog::warn("kafka sink {}: stream {}: {}", cfg_.name, stream, *w);
    }
    if (st->guard.pending_size() > 0) {
      spdlog::info("kafka sink {}: stream {}: Kafka committed transaction {} after the pipeline's last checkpoint; "
                   "its {} record(s) will be skipped when the source replays them",
                   cfg_.name, stream, st->guard.txn(), st->guard.pending_size());
    }
  }
  std::lock_guard lock(streams_mu_);
  streams_[stream] = std::move(st);
  return Status::ok();
}

rd_kafka_topic_t* KafkaSink::topic_handle(const std::string& topic) {
  std::lock_guard lock(topics_mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) return it->second.get();
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer_.get(), topic.c_str(), nullptr);
  if (rkt == nullptr) return nullptr;
  topics_.emplace(topic, kafka::Topic(rkt));
  return rkt;
}

Status KafkaSink::produce(rd_kafka_topic_t* rkt, const std::string& key, const std::string* value,
                          const Record* chained, const std::string& stream, const char* op, const char* schema,
                          DeliveryTracker& tracker) {
  kafka::Headers headers(rd_kafka_headers_new(5));
  rd_kafka_header_add(headers.get(), kHeaderStream, -1, stream.data(), static_cast<ssize_t>(stream.size()));
  if (op != nullptr) rd_kafka_header_add(headers.get(), kHeaderOp, -1, op, -1);
  rd_kafka_header_add(headers.get(), kHeaderSchema, -1, schema, -1);
  if (chained != nullptr && !chained->chain_hash.empty()) {
    rd_kafka_header_add(headers.get(), kHeaderPrevHash, -1, chained->chain_prev.data(),
                        static_cast<ssize_t>(chained->chain_prev.size()));
    rd_kafka_header_add(headers.get(), kHeaderHash, -1, chained->chain_hash.data(),
                        static_cast<ssize_t>(chained->chain_hash.size()));
  }
  // Not copied (no RD_KAFKA_MSG_F_COPY): write() outlives every delivery report.
  void* payload = value ? const_cast<char*>(value->data()) : nullptr;
  const size_t len = value ? value->size() : 0;
  tracker.outstanding.fetch_add(1);
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(payload, len), RD_KAFKA_V_HEADERS(headers.get()),
        RD_KAFKA_V_OPAQUE(&tracker), RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)headers.release();  // owned by the message now
      counters_.produced.fetch_add(1);
      return Status::ok();
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Back-pressure: serve delivery reports to make room, never grow the queue.
      counters_.queue_full_waits.fetch_add(1);
      if (stop_.stop_requested()) {
        tracker.outstanding.fetch_sub(1);
        return Status::retryable("stopping while the producer queue was full");
      }
      rd_kafka_poll(producer_.get(), kPollMs);
      continue;
    }
    tracker.outstanding.fetch_sub(1);
    const std::string topic = rd_kafka_topic_name(rkt);
    std::string msg = fmt::format("kafka sink {}: cannot produce record {} to {}: {}{}", cfg_.name, key, topic,
                                  rd_kafka_err2str(err), error_hint(err, topic));
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(producer_.get(), buf, sizeof buf);
      msg += std::string(": ") + buf;
      set_fatal(msg);
      return Status::fatal(msg);
    }
    if (permanent_delivery_error(err)) return Status::fatal(msg);
    return Status::retryable(msg);
  }
}

Status KafkaSink::produce_batch(const Batch& batch, const std::vector<size_t>* only, DeliveryTracker& tracker) {
  const std::string topic = expand_topic_template(cfg_.topic, batch.stream);
  rd_kafka_topic_t* rkt = topic_handle(topic);
  if (rkt == nullptr) {
    return Status::fatal("kafka sink " + cfg_.name + ": cannot open topic " + topic + ": " +
                         rd_kafka_err2str(rd_kafka_last_error()));
  }
  const size_t n = only ? only->size() : batch.records.size();
  for (size_t k = 0; k < n; ++k) {
    const Record& r = batch.records[only ? (*only)[k] : k];
    const bool tombstone = r.op == Op::kDelete && cfg_.deletes == KafkaDeletes::kTombstone;
    if (auto s = produce(rkt, r.id, tombstone ? nullptr : &r.envelope, &r, batch.stream, op_name(r.op), kSchemaV1,
                         tracker);
        !s.is_ok()) {
      return s;
    }
  }
  return Status::ok();
}

void KafkaSink::await_delivery(DeliveryTracker& tracker, bool purge_on_stop) {
  bool purged = false;
  while (tracker.outstanding.load(std::memory_order_acquire) > 0) {
    rd_kafka_poll(producer_.get(), kPollMs);
    if (purge_on_stop && !purged && stop_.stop_requested()) {
      // Graceful stop must not wait out message.timeout.ms behind a dead broker; the
      // purged messages report ERR__PURGE_* at once and the batch is not acknowledged.
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      purged = true;
    }
  }
}

Status KafkaSink::delivery_status(const DeliveryTracker& tracker, const std::string& stream) const {
  const size_t failed = tracker.failed.load();
  if (failed == 0) return Status::ok();
  std::string msg = fmt::format("kafka sink {}: stream {}: {} message(s) of the batch were not delivered: {}{}",
                                cfg_.name, stream, failed, rd_kafka_err2str(tracker.first_err),
                                error_hint(tracker.first_err, tracker.first_topic));
  if (permanent_delivery_error(tracker.first_err)) return Status::fatal(msg);
  return Status::retryable(msg);
}

Result<nlohmann::json> KafkaSink::write(const Batch& batch) {
  if (fatal_.load()) return fatal_status();
  if (!producer_) return Status::fatal("kafka sink " + cfg_.name + ": write() before open()");
  if (cfg_.exactly_once) return write_exactly_once(batch);
  return write_at_least_once(batch);
}

Result<nlohmann::json> KafkaSink::write_at_least_once(const Batch& batch) {
  if (batch.records.empty()) return nlohmann::json();
  DeliveryTracker tracker;
  Status produced = produce_batch(batch, nullptr, tracker);
  await_delivery(tracker, true);
  if (!produced.is_ok()) return produced;
  counters_.delivery_failures.fetch_add(tracker.failed.load());
  if (auto s = delivery_status(tracker, batch.stream); !s.is_ok()) {
    char buf[512];
    if (rd_kafka_fatal_error(producer_.get(), buf, sizeof buf) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string msg = "kafka sink " + cfg_.name + ": the idempotent producer failed for good: " + buf;
      set_fatal(msg);
      return Status::fatal(msg);
    }
    if (stop_.stop_requested()) return Status::retryable("stopping before every delivery report arrived");
    return s;
  }
  // Idempotent and keyed: a replay after a restart re-sends records, never loses them.
  return nlohmann::json();
}

Status KafkaSink::transaction_error(rd_kafka_error_t* err, const std::string& what) {
  const std::string reason = rd_kafka_error_string(err);
  if (rd_kafka_error_is_fatal(err)) {
    const rd_kafka_resp_err_t code = rd_kafka_error_code(err);
    char buf[512];
    rd_kafka_resp_err_t fcode = rd_kafka_fatal_error(producer_.get(), buf, sizeof buf);
    const bool fenced = code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                        code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH || fcode == RD_KAFKA_RESP_ERR__FENCED ||
                        fcode == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                        fcode == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
    std::string msg;
    if (fenced) {
      msg = fmt::format("kafka sink {}: fenced: another producer with transactional.id '{}' took over (is a second "
                        "ldexport running with this config?); this one stops so the two cannot both write: {}",
                        cfg_.name, txn_id_, reason);
    } else {
      msg = fmt::format("kafka sink {}: {}: fatal transactional producer error: {}", cfg_.name, what, reason);
    }
    set_fatal(msg);
    return Status::fatal(msg);
  }
  return Status::retryable(fmt::format("kafka sink {}: {}: {}", cfg_.name, what, reason));
}

Status KafkaSink::abort_transaction(DeliveryTracker* tracker, const std::string& why) {
  counters_.aborts.fetch_add(1);
  spdlog::warn("kafka sink {}: aborting the transaction: {}", cfg_.name, why);
  kafka::Error e(rd_kafka_abort_transaction(producer_.get(), to_ms(cfg_.timeout)));
  Status s = Status::ok();
  if (e) {
    s = transaction_error(e.get(), "aborting the transaction");
    // The abort did not finish: purge so every report arrives; abort again next time.
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  } else {
    txn_open_ = false;
  }
  if (tracker) await_delivery(*tracker, false);
  return s;
}

Result<nlohmann::json> KafkaSink::write_exactly_once(const Batch& batch) {
  std::lock_guard lock(txn_mu_);
  StreamState* st = stream_state(batch.stream);
  if (st == nullptr) return Status::fatal("kafka sink " + cfg_.name + ": stream " + batch.stream + " was not recovered");
  const ReplayGuard::Plan plan = st->guard.plan(batch.records);
  if (plan.skipped > 0) {
    counters_.replayed_skipped.fetch_add(plan.skipped);
    spdlog::info("kafka sink {}: stream {}: skipped {} replayed record(s) that Kafka already committed", cfg_.name,
                 batch.stream, plan.skipped);
  }
  if (plan.write.empty()) {
    st->guard.passed_without_transaction(batch.records.size());
    return st->guard.position();
  }

  if (txn_open_) {  // left open by a commit that failed without a verdict
    if (auto s = abort_transaction(nullptr, "a previous transaction was left open"); !s.is_ok()) return s;
  }
  if (kafka::Error e(rd_kafka_begin_transaction(producer_.get())); e) {
    return transaction_error(e.get(), "beginning a transaction");
  }
  txn_open_ = true;
  DeliveryTracker tracker;
  if (Status s = produce_batch(batch, &plan.write, tracker); !s.is_ok()) {
    Status a = abort_transaction(&tracker, s.message());
    return a.is_fatal() ? a : s;
  }
  // The checkpoint record goes out only once every record of the batch is on its
  // broker: a transaction cut short by a crash never has a checkpoint record without
  // its data (a reader that does not hide aborted transactions, like librdkafka's
  // mock, could otherwise make the next start skip records that never arrived).
  await_delivery(tracker, true);
  if (Status s = delivery_status(tracker, batch.stream); !s.is_ok()) {
    counters_.delivery_failures.fetch_add(tracker.failed.load());
    Status a = abort_transaction(&tracker, s.message());
    return a.is_fatal() ? a : s;
  }
  CheckpointRecord rec = st->guard.next_record(plan, batch, txn_id_, wall_now_ms());
  std::string rec_json = rec.to_json();
  if (rec_json.size() > kMaxCheckpointBytes) {
    // Brokers refuse messages over message.max.bytes (1 MB by default). Keep the counts
    // and cursor; give up the replay lists, and say what that costs.
    spdlog::warn("kafka sink {}: stream {}: batch of {} records is too large to list in the checkpoint record; a "
                 "crash right after this transaction may repeat some of its records for read_committed readers",
                 cfg_.name, batch.stream, plan.write.size());
    rec.pending.clear();
    rec_json = rec.to_json();
    if (rec_json.size() > kMaxCheckpointBytes) {
      rec.written.clear();
      rec_json = rec.to_json();
    }
  }
  rd_kafka_topic_t* cp_topic = topic_handle(cfg_.checkpoint_topic);
  if (cp_topic == nullptr) {
    Status a = abort_transaction(&tracker, "cannot open the checkpoint topic");
    return a.is_fatal() ? a : Status::fatal("kafka sink " + cfg_.name + ": cannot open topic " + cfg_.checkpoint_topic);
  }
  if (Status s = produce(cp_topic, batch.stream, &rec_json, nullptr, batch.stream, nullptr, kCheckpointSchema, tracker); !s.is_ok()) {
    Status a = abort_transaction(&tracker, s.message());
    return a.is_fatal() ? a : s;
  }
  // Commit flushes every message first; any failed delivery makes it abortable.
  for (int attempt = 1;; ++attempt) {
    kafka::Error e(rd_kafka_commit_transaction(producer_.get(), to_ms(cfg_.timeout)));
    if (!e) break;
    if (rd_kafka_error_is_fatal(e.get())) {
      Status s = transaction_error(e.get(), "committing");
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      await_delivery(tracker, false);
      return s;
    }
    const std::string reason = rd_kafka_error_string(e.get());
    if (rd_kafka_error_txn_requires_abort(e.get()) || stop_.stop_requested()) {
      Status a = abort_transaction(&tracker, "commit failed: " + reason);
      if (a.is_fatal()) return a;
      return Status::retryable("kafka sink " + cfg_.name + ": the transaction was aborted, nothing of the batch " +
                               "counts: " + reason);
    }
    // Retriable (e.g. a timeout while a broker is away): committing again is safe.
    spdlog::warn("kafka sink {}: commit attempt {} failed: {}; retrying", cfg_.name, attempt, reason);
  }
  await_delivery(tracker, false);
  txn_open_ = false;
  counters_.transactions.fetch_add(1);
  st->guard.committed(rec);
  checkpoint_latest_[batch.stream] = rec;
  return st->guard.position();
}

void KafkaSink::committed(const std::string& stream, const nlohmann::json& position) {
  if (!cfg_.exactly_once) return;
  if (StreamState* st = stream_state(stream)) st->guard.pipeline_committed(position);
}

Status KafkaSink::health() {
  if (fatal_.load()) return fatal_status();
  std::lock_guard lock(health_mu_);
  if (closed_ || !producer_) return Status::retryable("kafka sink " + cfg_.name + ": not open");
  // rd_kafka_metadata is thread-safe; a short bound keeps /readyz quick.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 0, nullptr, &md, 2000);
  kafka::Metadata owner(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable("kafka sink " + cfg_.name + ": brokers " + cfg_.brokers + " unreachable: " +
                             rd_kafka_err2str(err));
  }
  return Status::ok();
}

Status KafkaSink::close() {
  {
    std::lock_guard lock(health_mu_);
    if (closed_ || !producer_) return Status::ok();
    closed_ = true;  // health() no longer starts a request on the producer
  }
  Status result = Status::ok();
  {
    std::lock_guard lock(txn_mu_);
    if (cfg_.exactly_once && txn_open_ && !fatal_.load()) result = abort_transaction(nullptr, "closing");
  }
  // Every write() waited for its reports, so this only drains what a failed abort left.
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), to_ms(cfg_.timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const int left = rd_kafka_outq_len(producer_.get());
    spdlog::warn("kafka sink {}: {} message(s) still queued at shutdown; their batches were not acknowledged, so "
                 "the next run sends them again",
                 cfg_.name, left);
  }
  {
    std::lock_guard lock(topics_mu_);
    topics_.clear();
  }
  {
    std::lock_guard lock(health_mu_);  // waits for a health() already under way
    producer_.reset();
  }
  return result;
}

}  // namespace ldx
