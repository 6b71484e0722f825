// What the dead letters of the snapshot streams hold: an item the stream cannot read,
// redacted like `data` (an environment's SDK and mobile keys, any "sdk-"/"mob-" key
// value) unless include_secrets, with a number beyond 64 bits kept as its marker for
// EntitySource to restore. The name that dead-letters an unreadable item once is still
// made from the item as listed: committed cursors hold those names.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "common/big_numbers.h"
#include "core/json_writer.h"
#include "fake_api.h"
#include "sources/entity/entity_source.h"
#include "sources/entity/snapshot_pass.h"
#include "sources/entity/snapshot_state.h"
#include "sources/environments/environments_source.h"
#include "sources/members/members_source.h"

namespace ldx {
namespace {

using test::Archive;
using test::FakeApi;
using test::run_pass;

constexpr const char* kSdkKey = "sdk-0a1b2c3d-4e5f-6789-abcd-ef0123456789";
constexpr const char* kMobileKey = "mob-0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const std::string kMarker = "\"" + std::string(kRedactionMarker) + "\"";

void expect_redacted(const DeadLetter& d) {
  EXPECT_EQ(d.raw.find(kSdkKey), std::string::npos) << d.raw;
  EXPECT_EQ(d.raw.find(kMobileKey), std::string::npos) << d.raw;
  EXPECT_NE(d.raw.find(kMarker), std::string::npos) << d.raw;
}

// An environment without a string key, as discovery kept it (minified, a number beyond
// 64 bits rewritten into its marker).
std::string bad_environment() {
  return std::string(R"({"key":7,"name":"bad","apiKey":")") + kSdkKey + R"(","mobileKey":")" + kMobileKey +
         R"(","n":"\u0000ldx-number:123456789012345678901234567890"})";
}

ProjectInfo project_with_bad_environment() {
  ProjectInfo p;
  p.key = "default";
  p.environments = {
      {"production", std::string(R"({"key":"production","apiKey":")") + kSdkKey + R"(","name":"P"})"},
      {"bad", bad_environment()}};
  return p;
}

TEST(DeadLetterRedaction, AnUnreadableEnvironmentIsDeadLetteredWithoutItsKeysOnce) {
  FakeApi api;
  LaunchDarklyConfig ld;
  Archive a;
  const ProjectInfo p = project_with_bad_environment();
  auto r1 = run_pass(*make_environments_stream(EnvironmentsConfig{}, ld), nullptr, {p}, api, a, 1);
  ASSERT_TRUE(r1.completed);
  ASSERT_EQ(r1.dead_letters.size(), 1u);
  const DeadLetter& d = r1.dead_letters[0];
  expect_redacted(d);
  EXPECT_NE(d.raw.find(R"("apiKey":"[REDACTED]","mobileKey":"[REDACTED]")"), std::string::npos) << d.raw;
  EXPECT_NE(d.raw.find(R"("name":"bad")"), std::string::npos) << "the rest as it came: " << d.raw;
  // The marker is kept, so EntitySource::set_aside_unrepresentable restores the number.
  ASSERT_TRUE(has_rewritten_number(d.raw)) << d.raw;
  EXPECT_NE(restore_rewritten_numbers(d.raw).find(R"("n":123456789012345678901234567890})"), std::string::npos)
      << restore_rewritten_numbers(d.raw);

  // Named from the item as listed (unredacted), as cursors committed before the redaction.
  const nlohmann::json& unreadable = r1.final_cursor["snapshot"]["unreadable"];
  ASSERT_EQ(unreadable.size(), 1u) << r1.final_cursor.dump();
  EXPECT_TRUE(unreadable.contains(unreadable_name("default", bad_environment()))) << r1.final_cursor.dump();

  // Listed again unchanged: not dead-lettered again.
  auto r2 = run_pass(*make_environments_stream(EnvironmentsConfig{}, ld), r1.final_cursor, {p}, api, a, 2);
  ASSERT_TRUE(r2.completed);
  EXPECT_TRUE(r2.dead_letters.empty());
}

TEST(DeadLetterRedaction, WithIncludeSecretsAnEnvironmentDeadLetterKeepsItsKeys) {
  FakeApi api;
  LaunchDarklyConfig ld;
  ld.include_secrets = true;
  Archive a;
  auto r = run_pass(*make_environments_stream(EnvironmentsConfig{}, ld), nullptr, {project_with_bad_environment()},
                    api, a, 1);
  ASSERT_EQ(r.dead_letters.size(), 1u);
  EXPECT_NE(r.dead_letters[0].raw.find(std::string(R"("apiKey":")") + kSdkKey), std::string::npos)
      << r.dead_letters[0].raw;
  EXPECT_NE(r.dead_letters[0].raw.find(kMobileKey), std::string::npos) << r.dead_letters[0].raw;
  EXPECT_EQ(r.dead_letters[0].raw.find(kMarker), std::string::npos) << r.dead_letters[0].raw;
}

// A listed item, and the answer to a confirmation GET, of a paged snapshot stream.
TEST(DeadLetterRedaction, UnreadableListedAndConfirmedItemsAreRedacted) {
  FakeApi api;
  const nlohmann::json bad = {{"email", "bad@example.com"}, {"apiKey", kSdkKey}, {"note", kMobileKey}};
  api.lists["/api/v2/members"] = {{{"_id", "m1"}, {"email", "m1@example.com"}}, bad};
  MembersConfig cfg;
  LaunchDarklyConfig ld;
  Archive a;
  auto r1 = run_pass(*make_members_stream(cfg, ld), nullptr, {}, api, a, 1);
  ASSERT_TRUE(r1.completed);
  ASSERT_EQ(r1.dead_letters.size(), 1u);
  expect_redacted(r1.dead_letters[0]);
  EXPECT_NE(r1.dead_letters[0].raw.find(R"("note":"[REDACTED]")"), std::string::npos) << r1.dead_letters[0].raw;
  bool named_as_listed = false;
  for (const auto& [name, v] : r1.final_cursor["snapshot"]["unreadable"].items()) {
    named_as_listed = named_as_listed || name.ends_with("/" + content_fingerprint(bad.dump()));
  }
  EXPECT_TRUE(named_as_listed) << r1.final_cursor.dump();

  // m1 is no longer listed; its GET answers an item without _id holding a key.
  api.lists["/api/v2/members"] = {bad};
  api.singles["/api/v2/members/m1"] = {{"email", "m1@example.com"}, {"sdkKey", kSdkKey}};
  auto r2 = run_pass(*make_members_stream(cfg, ld), r1.final_cursor, {}, api, a, 2);
  ASSERT_TRUE(r2.completed);
  ASSERT_EQ(r2.dead_letters.size(), 1u) << "the listed one is not dead-lettered again";
  expect_redacted(r2.dead_letters[0]);
  EXPECT_NE(r2.dead_letters[0].raw.find(R"("sdkKey":"[REDACTED]")"), std::string::npos) << r2.dead_letters[0].raw;
}

// A stream that does not say its policy: its dead letters are redacted.
class SilentStream final : public SnapshotStream {
 public:
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& /*projects*/) const override {
    return {};
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element /*item*/, const ListScope& /*scope*/,
                                         int64_t /*now_ms*/) const override {
    return Status::data_error("never readable");
  }
  [[nodiscard]] bool selected(const std::string& /*id*/) const override { return true; }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, "", "", now_ms);
  }

 private:
  std::string name_ = "silent";
};

TEST(DeadLetterRedaction, AStreamThatDoesNotSayItsPolicyRedacts) {
  SilentStream s;
  EXPECT_FALSE(s.secret_policy().include_secrets);
  SnapshotState state;
  ListScope scope;
  scope.key = "k";
  scope.preloaded = true;
  scope.items = {bad_environment()};
  SnapshotPass pass(s, state, {scope}, 1);
  ASSERT_EQ(pass.next().kind, PassStep::Kind::kLocal);
  StepOutput out;
  ASSERT_TRUE(pass.run_local(1, out).is_ok());
  ASSERT_EQ(out.dead_letters.size(), 1u);
  expect_redacted(out.dead_letters[0]);
}

}  // namespace
}  // namespace ldx
