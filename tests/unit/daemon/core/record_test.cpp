#include "core/record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ldx {
namespace {

const std::string kPrev = "00000000000000000000000000000000000000000000000000000000000000aa";
const std::string kHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Records of every shape an envelope can take: each optional member null or set,
// with and without data and changes, strings that need escaping.
std::vector<Record> record_shapes() {
  std::vector<Record> out;
  for (int mask = 0; mask < 64; ++mask) {
    Record r;
    r.stream = "audit_log";
    r.id = mask % 3 == 0 ? "id \"quoted\" \\ \t" : "61f1a2" + std::to_string(mask);
    r.op = mask % 5 == 0 ? Op::kDelete : Op::kUpsert;
    if (mask & 1) r.project = "proj \xC3\xA9";
    if (mask & 2) r.environment = "production";
    if (mask & 4) r.kind = "flag";
    if (mask & 8) r.version = mask % 3 == 0 ? -7 : 42;
    if (mask & 16) r.occurred_at_ms = 1764000000123;
    if (mask & 32) r.changes = R"([{"path":"/on","change":"changed","before":false,"after":true}])";
    r.observed_at_ms = mask % 2 == 0 ? 1764000000999 : -1;
    if (mask % 4 != 3) r.data = R"({"a":[1,{"b":"é\n"}],"z":null})";
    out.push_back(std::move(r));
  }
  return out;
}

// The hash chain appends prev_hash and hash to the envelope the normalizer finished:
// sinks and `ldexport verify` see exactly what a full rewrite would have written.
TEST(Record, FinishChainAfterFinishEqualsFinishWithTheChainFields) {
  for (Record r : record_shapes()) {
    r.finish();
    const std::string unchained = r.envelope;
    r.chain_prev = kPrev;
    r.chain_hash = kHash;
    r.finish_chain();
    Record full = r;
    full.envelope.clear();
    full.finish();
    EXPECT_EQ(r.envelope, full.envelope) << unchained;
    auto env = nlohmann::json::parse(r.envelope);
    EXPECT_EQ(env["prev_hash"], kPrev);
    EXPECT_EQ(env["hash"], kHash);
  }
}

TEST(Record, FinishChainWithoutAnEnvelopeWritesTheWholeEnvelope) {
  for (Record r : record_shapes()) {
    r.chain_prev = kPrev;
    r.chain_hash = kHash;
    ASSERT_TRUE(r.envelope.empty());
    r.finish_chain();
    Record full = r;
    full.finish();
    EXPECT_EQ(r.envelope, full.envelope);
  }
}

}  // namespace
}  // namespace ldx
