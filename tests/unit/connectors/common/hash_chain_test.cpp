#include "common/hash_chain.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "hash_chain_expect.h"
#include "sources/audit_log/audit_log_normalizer.h"

namespace ldx {
namespace {

Record audit_record(const std::string& id, int64_t observed_at_ms, const std::string& data) {
  Record r;
  r.stream = "audit_log";
  r.id = id;
  r.kind = "flag";
  r.occurred_at_ms = 1764000000000;
  r.observed_at_ms = observed_at_ms;
  r.data = data;
  r.finish();
  return r;
}

Batch batch_of(std::vector<Record> records, const std::string& stream = "audit_log") {
  Batch b;
  b.stream = stream;
  b.records = std::move(records);
  return b;
}

// The pipeline hashes a record from its fields; verify hashes the archive line. Both
// must agree on every shape of record, or verify would report intact archives as changed.
TEST(HashChain, HashFromTheFieldsEqualsHashOfTheFinishedEnvelope) {
  std::vector<Record> records;
  Record plain = audit_record("61f1a2", 5, R"({"b":1,"a":[{"z":null,"y":"é\u00e9\n"}],"_links":{}})");
  records.push_back(plain);
  Record nulls;
  nulls.stream = "audit_log";
  nulls.id = "id with \"quotes\" and \\ and \t tab";
  nulls.observed_at_ms = 7;
  records.push_back(nulls);  // no data, no kind, no times, no version
  Record full = plain;
  full.project = "proj \u00e9";
  full.environment = "production";
  full.version = 42;
  full.op = Op::kDelete;
  full.changes = R"([{"path":"/on","change":"changed","before":false,"after":true}])";
  full.data = R"({"deep":{"x":[1,2.50,-0,1e3,{"k":"v","a":"b"}]},"a":true})";
  records.push_back(full);
  Record unicode = plain;
  unicode.data = "{\"\u00e9\":1,\"e\":2,\"\\u0041\":3}";
  records.push_back(unicode);
  for (Record& r : records) {
    for (const char* prev : {"", "00000000000000000000000000000000000000000000000000000000000000aa"}) {
      test::expect_hash_from_fields_equals_hash_of_envelope(r, prev);
    }
  }
  // Nesting is limited from the envelope's top, so both refuse the same data.
  Record deep = plain;
  deep.data = std::string(512, '[') + std::string(512, ']');
  deep.finish();
  EXPECT_FALSE(record_hash(deep.envelope).is_ok());
  EXPECT_FALSE(record_hash(deep).is_ok());
  deep.data = std::string(511, '[') + std::string(511, ']');
  deep.finish();
  EXPECT_TRUE(record_hash(deep.envelope).is_ok());
  EXPECT_EQ(record_hash(deep).value(), record_hash(deep.envelope).value());
}

std::vector<Record> normalized_audit_records() {
  const char* const entries[] = {
      R"({"_id":"n1","date":1764000000001,"kind":"flag","target":{"resources":["proj/p:env/production:flag/f"]},
         "title":"turned \"on\"","z":[{"b":1,"a":2}]})",
      R"({"_id":"n2","date":1764000000002,"kind":"environment","accesses":[{"resource":"proj/p:env/test"}],
         "previousVersion":{"on":false,"apiKey":"sdk-11111111-2222-3333-4444-555555555555","rules":[]},
         "currentVersion":{"on":true,"apiKey":"sdk-11111111-2222-3333-4444-555555555555","rules":[{"x":1}]}})",
      R"({"date":1764000000003,"_id":"n3","é":"\u00e9","e":null,"n":[1.0,-0,18446744073709551615]})",
      R"({"_id":"n4","date":-5})",
  };
  std::vector<Record> out;
  simdjson::dom::parser parser;
  for (const char* e : entries) {
    auto r = normalize_audit_entry(parser.parse(std::string_view(e)), SecretPolicy{}, 1764000009999);
    EXPECT_TRUE(r.is_ok()) << e << ": " << r.status().message();
    if (r.is_ok()) out.push_back(std::move(r.value()));
  }
  return out;
}

// The pipeline appends the chain fields to the envelope the normalizer finished; it
// must be byte for byte what re-finishing the whole record writes, and verify.
TEST(HashChain, AppendedChainFieldsEqualAFullRewriteForNormalizedRecords) {
  std::vector<Record> records = normalized_audit_records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_FALSE(records[1].changes.empty());
  nlohmann::json positions = nlohmann::json::object();
  auto first = batch_of({records[0], records[1]});
  auto second = batch_of({records[2], records[3]});
  ASSERT_TRUE(apply_hash_chain(first, positions).is_ok());
  ASSERT_TRUE(apply_hash_chain(second, positions).is_ok());
  std::vector<Record> chained = first.records;
  chained.insert(chained.end(), second.records.begin(), second.records.end());
  std::string prev(kChainGenesis);
  for (size_t i = 0; i < chained.size(); ++i) {
    const Record& r = chained[i];
    EXPECT_EQ(r.chain_prev, prev) << i;
    Record rewritten = records[i];
    rewritten.chain_prev = r.chain_prev;
    rewritten.chain_hash = r.chain_hash;
    rewritten.finish();
    EXPECT_EQ(r.envelope, rewritten.envelope) << i;
    auto h = record_hash(r.envelope);
    ASSERT_TRUE(h.is_ok()) << h.status().describe();
    EXPECT_EQ(h.value(), r.chain_hash) << r.envelope;
    prev = r.chain_hash;
  }
  EXPECT_EQ(positions[kChainPositionKey]["head"], prev);
}

// A record chained once and chained again (say from another head) is rewritten, not
// given a second pair of chain fields.
TEST(HashChain, ChainingAChainedRecordAgainRewritesItsFields) {
  std::vector<Record> records = normalized_audit_records();
  ASSERT_FALSE(records.empty());
  nlohmann::json p1 = nlohmann::json::object();
  auto b = batch_of({records[0]});
  ASSERT_TRUE(apply_hash_chain(b, p1).is_ok());
  nlohmann::json p2 = {{kChainPositionKey, {{"head", sha256_hex("x")}}}};
  ASSERT_TRUE(apply_hash_chain(b, p2).is_ok());
  const Record& r = b.records[0];
  EXPECT_EQ(r.chain_prev, sha256_hex("x"));
  Record rewritten = records[0];
  rewritten.chain_prev = r.chain_prev;
  rewritten.chain_hash = r.chain_hash;
  rewritten.finish();
  EXPECT_EQ(r.envelope, rewritten.envelope);
  EXPECT_EQ(record_hash(r.envelope).value(), r.chain_hash);
}

TEST(HashChain, Sha256KnownAnswers) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashChain, EachRecordCarriesItsPredecessorsHash) {
  nlohmann::json positions = nlohmann::json::object();
  auto b = batch_of({audit_record("a", 1, R"({"n":1})"), audit_record("b", 1, R"({"n":2})"),
                     audit_record("c", 1, R"({"n":3})")});
  ASSERT_TRUE(apply_hash_chain(b, positions).is_ok());
  EXPECT_EQ(b.records[0].chain_prev, kChainGenesis);
  EXPECT_EQ(b.records[1].chain_prev, b.records[0].chain_hash);
  EXPECT_EQ(b.records[2].chain_prev, b.records[1].chain_hash);
  EXPECT_EQ(positions[kChainPositionKey]["head"], b.records[2].chain_hash);
  for (const auto& r : b.records) {
    EXPECT_TRUE(is_sha256_hex(r.chain_hash));
    // The envelope carries both fields, additively, and its hash is recomputable.
    auto env = nlohmann::json::parse(r.envelope);
    EXPECT_EQ(env["prev_hash"], r.chain_prev);
    EXPECT_EQ(env["hash"], r.chain_hash);
    EXPECT_EQ(env["schema"], "ldexport.v1");
    EXPECT_EQ(record_hash(r.envelope).value(), r.chain_hash);
  }
  // The next batch continues from the committed head.
  auto next = batch_of({audit_record("d", 1, R"({"n":4})")});
  ASSERT_TRUE(apply_hash_chain(next, positions).is_ok());
  EXPECT_EQ(next.records[0].chain_prev, b.records[2].chain_hash);
}

TEST(HashChain, ReplayWithANewObservedAtHashesTheSame) {
  // After a crash a page is fetched again: observed_at differs, the chain must not.
  nlohmann::json committed = nlohmann::json::object();
  auto first = batch_of({audit_record("a", 1000, R"({"n":1})"), audit_record("b", 1000, R"({"n":2})")});
  auto replay = batch_of({audit_record("a", 99999, R"({"n":1})"), audit_record("b", 99999, R"({"n":2})")});
  nlohmann::json p1 = committed;
  nlohmann::json p2 = committed;
  ASSERT_TRUE(apply_hash_chain(first, p1).is_ok());
  ASSERT_TRUE(apply_hash_chain(replay, p2).is_ok());
  EXPECT_NE(first.records[0].envelope, replay.records[0].envelope);
  EXPECT_EQ(first.records[1].chain_hash, replay.records[1].chain_hash);
  EXPECT_EQ(p1, p2);
}

TEST(HashChain, ContentPredecessorAndChangesAreCovered) {
  nlohmann::json p = nlohmann::json::object();
  auto base = batch_of({audit_record("a", 1, R"({"n":1})")});
  ASSERT_TRUE(apply_hash_chain(base, p).is_ok());
  const std::string h = base.records[0].chain_hash;

  nlohmann::json q = nlohmann::json::object();
  auto other_data = batch_of({audit_record("a", 1, R"({"n":2})")});
  ASSERT_TRUE(apply_hash_chain(other_data, q).is_ok());
  EXPECT_NE(other_data.records[0].chain_hash, h);

  nlohmann::json after_something = {{kChainPositionKey, {{"head", sha256_hex("x")}}}};
  auto other_prev = batch_of({audit_record("a", 1, R"({"n":1})")});
  ASSERT_TRUE(apply_hash_chain(other_prev, after_something).is_ok());
  EXPECT_NE(other_prev.records[0].chain_hash, h);

  nlohmann::json r = nlohmann::json::object();
  Record with_changes = audit_record("a", 1, R"({"n":1})");
  with_changes.changes = R"([{"path":"/n","change":"changed","before":0,"after":1}])";
  with_changes.finish();
  auto changed = batch_of({with_changes});
  ASSERT_TRUE(apply_hash_chain(changed, r).is_ok());
  EXPECT_NE(changed.records[0].chain_hash, h);
  EXPECT_TRUE(nlohmann::json::parse(changed.records[0].envelope)["changes"].is_array());
}

TEST(HashChain, KeyOrderAndEscapingDoNotMatter) {
  const std::string a = R"({"schema":"ldexport.v1","id":"x","data":{"b":1,"a":"\u00e9"},"prev_hash":"p"})";
  const std::string b = "{\"prev_hash\":\"p\",\"data\":{\"a\":\"\xC3\xA9\",\"b\":1},\"id\":\"x\",\"schema\":\"ldexport.v1\","
                        "\"observed_at\":\"2026-01-01T00:00:00.000Z\",\"hash\":\"whatever\"}";
  EXPECT_EQ(record_hash(a).value(), record_hash(b).value());
}

TEST(HashChain, OtherStreamsAreLeftAlone) {
  nlohmann::json p = nlohmann::json::object();
  Record r = audit_record("a", 1, "{}");
  r.stream = "flags";
  r.finish();
  auto b = batch_of({r}, "flags");
  const std::string before = b.records[0].envelope;
  ASSERT_TRUE(apply_hash_chain(b, p).is_ok());
  EXPECT_EQ(b.records[0].envelope, before);
  EXPECT_FALSE(p.contains(kChainPositionKey));
}

TEST(HashChain, MalformedCommittedHeadStopsTheStream) {
  nlohmann::json p = {{kChainPositionKey, {{"head", "not-a-hash"}}}};
  auto b = batch_of({audit_record("a", 1, "{}")});
  EXPECT_TRUE(apply_hash_chain(b, p).is_fatal());
}

}  // namespace
}  // namespace ldx
