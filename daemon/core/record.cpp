#include "core/record.h"

#include "core/json_writer.h"
#include "core/time_util.h"

namespace ldx {

const char* op_name(Op op) { return op == Op::kDelete ? "delete" : "upsert"; }

namespace {
void append_nullable(std::string& out, const std::string& s) {
  if (s.empty()) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}
}  // namespace

void Record::finish() {
  envelope.clear();
  // Room for every member, and for the chain fields finish_chain() may append later.
  envelope.reserve(data.size() + changes.size() + stream.size() + id.size() + project.size() + environment.size() +
                   kind.size() + 512);
  envelope += "{\"schema\":\"";
  envelope += kSchemaV1;
  envelope += "\",\"stream\":";
  append_json_string(envelope, stream);
  envelope += ",\"id\":";
  append_json_string(envelope, id);
  envelope += ",\"op\":\"";
  envelope += op_name(op);
  envelope += "\",\"project\":";
  append_nullable(envelope, project);
  envelope += ",\"environment\":";
  append_nullable(envelope, environment);
  envelope += ",\"kind\":";
  append_nullable(envelope, kind);
  envelope += ",\"version\":";
  envelope += version ? std::to_string(*version) : "null";
  envelope += ",\"occurred_at\":";
  if (occurred_at_ms) {
    append_json_timestamp(envelope, *occurred_at_ms);
  } else {
    envelope += "null";
  }
  envelope += ",\"observed_at\":";
  append_json_timestamp(envelope, observed_at_ms);
  envelope += ",\"data\":";
  envelope += data.empty() ? "null" : data;
  if (!changes.empty()) {
    envelope += ",\"changes\":";
    envelope += changes;
  }
  append_chain_members_and_close();
}

void Record::finish_chain() {
  // prev_hash and hash are the envelope's last members, so they can be appended.
  if (envelope.empty() || envelope.back() != '}') {
    finish();
    return;
  }
  envelope.pop_back();
  append_chain_members_and_close();
}

void Record::append_chain_members_and_close() {
  if (!chain_prev.empty()) {
    envelope += ",\"prev_hash\":";
    append_json_string(envelope, chain_prev);
  }
  if (!chain_hash.empty()) {
    envelope += ",\"hash\":";
    append_json_string(envelope, chain_hash);
  }
  envelope += '}';
}

std::string DeadLetter::to_json() const {
  std::string out = "{\"schema\":\"ldexport.deadletter.v1\",\"stream\":";
  append_json_string(out, stream);
  out += ",\"reason\":";
  append_json_string(out, reason);
  out += ",\"observed_at\":";
  append_json_string(out, format_rfc3339_ms(observed_at_ms));
  out += ",\"raw\":";
  append_json_string(out, raw);
  out += '}';
  return out;
}

}  // namespace ldx
