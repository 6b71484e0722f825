#include "sinks/postgres/pg_rows.h"

#include <gtest/gtest.h>

#include <string>

namespace ldx::pg {
namespace {

Record entity(const std::string& id, Op op, std::optional<int64_t> version, std::optional<int64_t> occurred,
              const std::string& data, int64_t observed = 9'000'000) {
  Record r;
  r.stream = "flags";
  r.id = id;
  r.op = op;
  r.version = version;
  r.occurred_at_ms = occurred;
  r.observed_at_ms = observed;
  r.data = data;
  return r;
}

std::vector<const Record*> ptrs(const std::vector<Record>& v) {
  std::vector<const Record*> out;
  for (const auto& r : v) out.push_back(&r);
  return out;
}

TEST(PgStageRow, EmptyEnvelopeFieldsBecomeSqlNull) {
  Record r;
  r.id = "61f1";
  r.observed_at_ms = 1700000000123;
  r.data = "null";
  StageRow row(r, 7);
  const auto& f = row.fields();
  EXPECT_STREQ(f[0], "7");
  EXPECT_STREQ(f[1], "61f1");
  EXPECT_STREQ(f[2], "upsert");
  EXPECT_EQ(f[3], nullptr);  // project
  EXPECT_EQ(f[4], nullptr);  // environment
  EXPECT_EQ(f[5], nullptr);  // kind
  EXPECT_EQ(f[6], nullptr);  // version
  EXPECT_EQ(f[7], nullptr);  // occurred_at
  EXPECT_STREQ(f[8], "1700000000123");
  EXPECT_EQ(f[9], nullptr);  // JSON null data -> SQL NULL
}

TEST(PgStageRow, SetFieldsAreCarriedAsText) {
  Record r = entity("default/f", Op::kDelete, 12, -5, "{\"a\":1}");
  r.project = "default";
  r.environment = "production";
  r.kind = "flag";
  StageRow row(r, 0);
  const auto& f = row.fields();
  EXPECT_STREQ(f[2], "delete");
  EXPECT_STREQ(f[3], "default");
  EXPECT_STREQ(f[4], "production");
  EXPECT_STREQ(f[5], "flag");
  EXPECT_STREQ(f[6], "12");
  EXPECT_STREQ(f[7], "-5");
  EXPECT_STREQ(f[9], "{\"a\":1}");
}

TEST(PgEntityPlan, NewIdsStartAtRevisionOneAndVersionsChainTheirIntervals) {
  std::vector<Record> recs{entity("f1", Op::kUpsert, 1, 1000, "{\"v\":1}"),
                           entity("f2", Op::kUpsert, 1, 1500, "{\"v\":1}"),
                           entity("f1", Op::kUpsert, 2, 2000, "{\"v\":2}"),
                           entity("f1", Op::kUpsert, 3, 3000, "{\"v\":3}")};
  auto plan = plan_entity_changes(ptrs(recs), std::vector<EntityVerdict>(4));
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].index, 0u);
  EXPECT_EQ(plan[0].revision, 1);
  EXPECT_EQ(plan[0].valid_from_ms, 1000);
  EXPECT_EQ(plan[0].valid_to_ms, 2000);
  EXPECT_EQ(plan[1].revision, 1);  // f2
  EXPECT_EQ(plan[1].valid_to_ms, std::nullopt);
  EXPECT_EQ(plan[2].revision, 2);
  EXPECT_EQ(plan[2].valid_from_ms, 2000);
  EXPECT_EQ(plan[2].valid_to_ms, 3000);
  EXPECT_EQ(plan[3].revision, 3);
  EXPECT_EQ(plan[3].valid_to_ms, std::nullopt);
}

TEST(PgEntityPlan, ContinuesFromTheStoredRevision) {
  std::vector<Record> recs{entity("f1", Op::kUpsert, 8, 5000, "{\"v\":8}")};
  EntityVerdict v;
  v.current_revision = 7;
  v.current_valid_from_ms = 4000;
  auto plan = plan_entity_changes(ptrs(recs), {v});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].revision, 8);
  EXPECT_EQ(plan[0].valid_from_ms, 5000);
}

TEST(PgEntityPlan, ReplaysAddNothing) {
  std::vector<Record> recs{entity("f1", Op::kUpsert, 3, 3000, "{\"v\":3}"),   // equal to the stored latest
                           entity("f2", Op::kUpsert, 1, 1000, "{\"v\":1}"),   // an older stored version
                           entity("f3", Op::kUpsert, 1, 1000, "{\"v\":1}"),   // new
                           entity("f3", Op::kUpsert, 1, 1000, "{\"v\":1}"),   // same again in the batch
                           entity("f3", Op::kUpsert, 2, 2000, "{\"v\":2}"),   // new
                           entity("f3", Op::kUpsert, 1, 1000, "{\"v\":1}")};  // older, earlier in batch
  std::vector<EntityVerdict> v(6);
  v[0].current_revision = 3;
  v[0].current_valid_from_ms = 3000;
  v[0].same_as_current = true;
  v[1].current_revision = 4;
  v[1].current_valid_from_ms = 4000;
  v[1].seen_in_history = true;
  auto plan = plan_entity_changes(ptrs(recs), v);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].index, 2u);
  EXPECT_EQ(plan[1].index, 4u);
  EXPECT_EQ(plan[1].revision, 2);
}

TEST(PgEntityPlan, AnUnversionedEntityMayReturnToAnEarlierState) {
  // A member's role changes and changes back: different change times, same content.
  std::vector<Record> recs{entity("m1", Op::kUpsert, std::nullopt, 1000, "{\"role\":\"reader\"}"),
                           entity("m1", Op::kUpsert, std::nullopt, 2000, "{\"role\":\"admin\"}"),
                           entity("m1", Op::kUpsert, std::nullopt, 3000, "{\"role\":\"reader\"}")};
  auto plan = plan_entity_changes(ptrs(recs), std::vector<EntityVerdict>(3));
  EXPECT_EQ(plan.size(), 3u);
}

TEST(PgEntityPlan, DeleteAndRecreateAreChanges) {
  std::vector<Record> recs{entity("f1", Op::kDelete, std::nullopt, 4000, "null"),
                           entity("f1", Op::kUpsert, 1, 5000, "{\"new\":true}")};
  EntityVerdict v;
  v.current_revision = 2;
  v.current_valid_from_ms = 2000;
  auto plan = plan_entity_changes(ptrs(recs), {v, EntityVerdict{}});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].revision, 3);
  EXPECT_EQ(plan[0].valid_to_ms, 5000);
  EXPECT_EQ(plan[1].revision, 4);
}

TEST(PgEntityPlan, IntervalsNeverRunBackwards) {
  // A source whose occurred_at does not move (or goes back) still yields ordered,
  // non-overlapping intervals.
  std::vector<Record> recs{entity("f1", Op::kUpsert, 5, 1000, "{\"v\":5}"),
                           entity("f1", Op::kUpsert, 6, 900, "{\"v\":6}")};
  EntityVerdict v;
  v.current_revision = 1;
  v.current_valid_from_ms = 1200;
  auto plan = plan_entity_changes(ptrs(recs), {v, EntityVerdict{}});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].valid_from_ms, 1200);
  EXPECT_EQ(plan[1].valid_from_ms, 1200);
  EXPECT_EQ(plan[0].valid_to_ms, 1200);
}

TEST(PgEntityPlan, WithoutOccurredAtTheObservedTimeIsUsed) {
  std::vector<Record> recs{entity("p1", Op::kUpsert, std::nullopt, std::nullopt, "{}", 777)};
  auto plan = plan_entity_changes(ptrs(recs), std::vector<EntityVerdict>(1));
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].valid_from_ms, 777);
}

TEST(PgStorableText, KeepsValidUtf8AndReplacesWhatTextCannotHold) {
  EXPECT_EQ(to_storable_text("plain {\"a\":\"caf\xc3\xa9\"} \xf0\x9f\x9a\x80"),
            "plain {\"a\":\"caf\xc3\xa9\"} \xf0\x9f\x9a\x80");
  EXPECT_EQ(to_storable_text(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(to_storable_text("bad \xff end"), "bad \xEF\xBF\xBD end");
  EXPECT_EQ(to_storable_text("cut \xe2\x82"), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(to_storable_text("overlong \xc0\xaf"), "overlong \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(to_storable_text("surrogate \xed\xa0\x80"), "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace ldx::pg

namespace ldx::pg {
namespace {

TEST(PgTableRow, CarriesRfc3339TimestampsForTheAppendOnlyCopy) {
  Record r;
  r.id = "61f1";
  r.kind = "flag";
  r.occurred_at_ms = 1700000000123;
  r.observed_at_ms = 1700000000999;
  r.data = "{\"a\":\"tab\\there\"}";
  TableRow row(r);
  const auto& f = row.fields();
  ASSERT_EQ(f.size(), direct_columns().size());
  EXPECT_STREQ(f[0], "61f1");
  EXPECT_STREQ(f[1], "upsert");
  EXPECT_EQ(f[2], nullptr);
  EXPECT_STREQ(f[4], "flag");
  EXPECT_EQ(f[5], nullptr);
  EXPECT_STREQ(f[6], "2023-11-14T22:13:20.123Z");
  EXPECT_STREQ(f[7], "2023-11-14T22:13:20.999Z");
  EXPECT_STREQ(f[8], "{\"a\":\"tab\\there\"}");
  EXPECT_EQ(f[9], nullptr);  // not hash-chained
  EXPECT_EQ(f[10], nullptr);
  r.chain_prev = std::string(64, '0');
  r.chain_hash = std::string(64, 'a');
  TableRow chained(r);
  EXPECT_EQ(direct_columns()[9], "prev_hash");
  EXPECT_EQ(chained.fields()[9], r.chain_prev);
  EXPECT_EQ(direct_columns()[10], "hash");
  EXPECT_EQ(chained.fields()[10], r.chain_hash);
}

TEST(PgFreshRecords, SkipsStoredIdsAndRepeatsWithinTheBatch) {
  std::vector<Record> recs(5);
  const char* ids[] = {"a", "b", "a", "c", "d"};
  for (size_t i = 0; i < recs.size(); ++i) recs[i].id = ids[i];
  std::vector<const Record*> ptrs;
  for (const auto& r : recs) ptrs.push_back(&r);
  auto fresh = fresh_records(ptrs, {"c"});
  ASSERT_EQ(fresh.size(), 3u);
  EXPECT_EQ(fresh[0], &recs[0]);  // the first "a" wins
  EXPECT_EQ(fresh[1], &recs[1]);
  EXPECT_EQ(fresh[2], &recs[4]);
}

TEST(PgTextArrayLiteral, QuotesEveryElement) {
  std::vector<Record> recs(3);
  recs[0].id = "plain";
  recs[1].id = "with\"quote";
  recs[2].id = "back\\slash,comma {}";
  std::vector<const Record*> ptrs{&recs[0], &recs[1], &recs[2]};
  EXPECT_EQ(text_array_literal(ptrs), R"({"plain","with\"quote","back\\slash,comma {}"})");
  EXPECT_EQ(text_array_literal({}), "{}");
}

TEST(PgRows, ADeadLetterKeyIsTheRecordNotWhenItWasFetched) {
  const Record a = entity("f", Op::kUpsert, 3, 1000, "[bad", 1);
  EXPECT_EQ(dead_letter_key(a), dead_letter_key(entity("f", Op::kUpsert, 3, 1000, "[bad", 2)));
  EXPECT_NE(dead_letter_key(a), dead_letter_key(entity("f", Op::kUpsert, 4, 1000, "[bad", 1)));
  EXPECT_NE(dead_letter_key(a), dead_letter_key(entity("f", Op::kUpsert, 3, 1000, "[bad2", 1)));
  EXPECT_NE(dead_letter_key(a), dead_letter_key(entity("g", Op::kUpsert, 3, 1000, "[bad", 1)));
  EXPECT_NE(dead_letter_key(a), dead_letter_key(entity("f", Op::kDelete, 3, 1000, "[bad", 1)));
  EXPECT_NE(dead_letter_key(entity("ab", Op::kUpsert, {}, {}, "c")), dead_letter_key(entity("a", Op::kUpsert, {}, {}, "bc")));
}

}  // namespace
}  // namespace ldx::pg
