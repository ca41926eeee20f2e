// Threat checklist #6 (serialization failure; edit vs edit): concurrent scope
// edits of one token end in one of the serial orders with no lost update, and
// a serialization failure (SQLSTATE 40001, forced by a trigger) is retried
// transparently by the store. Threads start together on a std::latch.
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"
#include "server/db_pool.h"
#include "server/pg_token_store.h"
#include "server/token_components.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using json = nlohmann::json;

constexpr char kPlan[] = "8100000001";
constexpr int kIterations = 40;

class EditRaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pat::testing::TestDatabase::Create();
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    auto pool = DbPool::Create(db_->url(), 8, absl::Seconds(5));
    ASSERT_THAT(pool, IsOk());
    pool_ = std::move(*pool);
    auto store = PgTokenStore::Create(*pool_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    auto components = TokenComponents::Create(*store_, clock_);
    ASSERT_THAT(components, IsOk());
    components_ = std::move(*components);
    ASSERT_THAT(components_.directory->UpsertPlan(
                    Plan{kPlan, "Edit", PlanTier::kOrganization, {"alice"}}),
                IsOk());
  }

  std::string NewToken() {
    CreateTokenParams p;
    p.plan_id = kPlan;
    p.kind = TokenKind::kRestApi;
    p.name = "edit";
    p.expires_in_days = 30;
    p.scopes = {"current_user:read"};
    p.all_resources = true;
    auto r = components_.lifecycle->CreateToken("alice", p);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->token.id : "";
  }

  absl::Status SetScopes(const std::string& id,
                         std::vector<std::string> scopes) {
    UpdateTokenParams u;
    u.plan_id = kPlan;
    u.token_id = id;
    u.update_mask = {"scopes"};
    u.scopes = std::move(scopes);
    return components_.lifecycle->UpdateToken("alice", u).status();
  }

  // The token's update audit events, oldest first, as (before, after)
  // scope lists.
  std::vector<std::pair<json, json>> Updates(const std::string& id) {
    pqxx::connection c(db_->url());
    pqxx::nontransaction nt(c);
    pqxx::result r = nt.exec_params(
        "SELECT details::text FROM audit_events WHERE token_id = $1 AND "
        "action = 'update' ORDER BY id",
        id);
    std::vector<std::pair<json, json>> out;
    for (const pqxx::row& row : r) {
      json d = json::parse(row[0].as<std::string>());
      out.emplace_back(d["before"]["scopes"], d["after"]["scopes"]);
    }
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<pat::testing::TestDatabase> db_;
  std::unique_ptr<DbPool> pool_;
  std::unique_ptr<PgTokenStore> store_;
  TokenComponents components_;
};

TEST_F(EditRaceTest, ConcurrentScopeEditsEndInASerialOrder) {
  const std::vector<std::string> a = {"file_content:read"};
  const std::vector<std::string> b = {"file_metadata:read"};
  for (int i = 0; i < kIterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    const std::string id = NewToken();
    ASSERT_FALSE(id.empty());
    absl::Status sa, sb;
    std::latch start(2);
    std::thread ta([&] {
      start.arrive_and_wait();
      sa = SetScopes(id, a);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      sb = SetScopes(id, b);
    });
    ta.join();
    tb.join();
    ASSERT_THAT(sa, IsOk());
    ASSERT_THAT(sb, IsOk());
    auto final_token = store_->GetToken(kPlan, id);
    ASSERT_THAT(final_token, IsOk());
    ASSERT_TRUE(final_token->scopes == a || final_token->scopes == b)
        << absl::StrJoin(final_token->scopes, " ");
    // Serial: the first edit went from the original scopes to X, the second
    // from X to the final state; neither was lost.
    std::vector<std::pair<json, json>> updates = Updates(id);
    ASSERT_EQ(updates.size(), 2u);
    EXPECT_EQ(updates[0].first, json({"current_user:read"}));
    EXPECT_EQ(updates[1].first, updates[0].second);
    EXPECT_EQ(updates[1].second, json(final_token->scopes));
    EXPECT_NE(updates[0].second, updates[1].second);
  }
}

TEST_F(EditRaceTest, SerializationFailureIsRetriedTransparently) {
  const std::string id = NewToken();
  ASSERT_FALSE(id.empty());
  {
    // The next two updates of a token row fail with 40001; a sequence is
    // not rolled back with the failing transaction, so the third succeeds.
    pqxx::connection c(db_->url());
    pqxx::work w(c);
    w.exec("CREATE SEQUENCE pat_test_fail_seq");
    w.exec(
        "CREATE FUNCTION pat_test_serialization_fault() RETURNS trigger AS $$ "
        "BEGIN IF nextval('pat_test_fail_seq') <= 2 THEN RAISE EXCEPTION "
        "'forced serialization failure' USING ERRCODE = '40001'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql");
    w.exec(
        "CREATE TRIGGER pat_test_serialization_fault BEFORE UPDATE ON tokens "
        "FOR EACH ROW EXECUTE FUNCTION pat_test_serialization_fault()");
    w.commit();
  }
  ASSERT_THAT(SetScopes(id, {"file_content:read"}), IsOk());
  auto token = store_->GetToken(kPlan, id);
  ASSERT_THAT(token, IsOk());
  EXPECT_EQ(token->scopes, std::vector<std::string>{"file_content:read"});
  pqxx::connection c(db_->url());
  pqxx::nontransaction nt(c);
  // The trigger fired three times: two failed attempts, one that committed.
  EXPECT_EQ(
      nt.exec("SELECT last_value FROM pat_test_fail_seq")[0][0].as<int64_t>(),
      3);
  // Exactly one audit event and one grant event for the update (the failed
  // attempts left nothing).
  EXPECT_EQ(Updates(id).size(), 1u);
  EXPECT_EQ(nt.exec_params("SELECT count(*) FROM grant_events WHERE "
                           "type = 'grant' AND key = $1",
                           id)[0][0]
                .as<int64_t>(),
            2);  // create + update
}

}  // namespace
}  // namespace pat
