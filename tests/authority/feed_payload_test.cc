// Threat checklist #9 (NOTIFY payload too big): a revoke of a token with
// 10,000 resources commits, its full grant event is in the feed table, and
// the NOTIFY that announces it carries only the revision, far below
// PostgreSQL's 8000-byte payload limit.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "server/db_pool.h"
#include "server/pg_token_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;

constexpr char kPlan[] = "8200000001";
constexpr int kResources = 10000;
constexpr size_t kNotifyPayloadLimit = 8000;

class Receiver final : public pqxx::notification_receiver {
 public:
  explicit Receiver(pqxx::connection& c)
      : pqxx::notification_receiver(c, "pat_grants") {}
  void operator()(const std::string& payload, int) override {
    payloads.push_back(payload);
  }
  std::vector<std::string> payloads;
};

TEST(FeedPayloadTest, RevokeOfTenThousandResourceTokenNotifiesOnlyARevision) {
  auto db = pat::testing::TestDatabase::Create();
  ASSERT_THAT(db, IsOk());
  auto pool = DbPool::Create((*db)->url(), 2, absl::Seconds(5));
  ASSERT_THAT(pool, IsOk());
  auto store = PgTokenStore::Create(**pool);
  ASSERT_THAT(store, IsOk());
  const absl::Time now = absl::FromUnixSeconds(1767225600);
  ASSERT_THAT(
      (*store)->UpsertPlan(Plan{kPlan, "Big", PlanTier::kEnterprise, {"alice"}},
                           now, PlanSweep{}),
      IsOk());
  // The store is below the RPCs' 100-link limit: it must carry any size.
  NewToken nt;
  Token& t = nt.token;
  t.id = "tok_BIGBIGBIGBIGBIGBIGBIGBIG";
  t.plan_id = kPlan;
  t.kind = TokenKind::kRestApi;
  t.name = "big";
  t.scopes = {"file_content:read"};
  t.created_by = "alice";
  t.create_time = now;
  t.lifetime_days = 30;
  t.expire_time = now + absl::Hours(24 * 30);
  for (int i = 0; i < kResources; ++i) {
    const std::string id = absl::StrCat("FILE", i);
    t.resources.push_back({ResourceKind::kFile, id,
                           absl::StrCat("https://www.figma.com/design/", id)});
  }
  nt.secret_digest = Sha256("big-secret");
  nt.actor = "alice";
  ASSERT_THAT((*store)->CreateToken(nt, IdempotencyKey{}, nullptr), IsOk());

  pqxx::connection listen_conn((*db)->url());
  Receiver receiver(listen_conn);
  auto revoked = (*store)->MutateToken(
      kPlan, t.id, "alice", now, IdempotencyKey{}, nullptr,
      [&](const Token& current) -> absl::StatusOr<TokenMutation> {
        TokenMutation m;
        m.changed = true;
        m.action = "revoke";
        m.updated = current;
        m.updated.revoke_time = now;
        m.updated.revoked_by = "alice";
        m.end_all_secrets = true;
        return m;
      });
  ASSERT_THAT(revoked, IsOk());
  ASSERT_TRUE(revoked->token.revoke_time.has_value());

  pqxx::connection c((*db)->url());
  pqxx::nontransaction nt2(c);
  pqxx::result ev = nt2.exec_params(
      "SELECT revision, length(payload::text), "
      "jsonb_array_length(payload->'resources') FROM grant_events WHERE "
      "key = $1 AND payload->>'revoke_time_us' IS NOT NULL",
      t.id);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_GT(ev[0][1].as<int64_t>(), static_cast<int64_t>(kNotifyPayloadLimit))
      << "the event itself must exceed the NOTIFY limit for this test to mean "
         "anything";
  EXPECT_EQ(ev[0][2].as<int>(), kResources);

  // The notification arrives (bounded wait), and is only the revision.
  for (int i = 0; i < 50 && receiver.payloads.empty(); ++i) {
    listen_conn.await_notification(0, 100000);
  }
  ASSERT_FALSE(receiver.payloads.empty()) << "no NOTIFY received";
  const std::string& payload = receiver.payloads.back();
  EXPECT_LT(payload.size(), kNotifyPayloadLimit);
  int64_t rev = 0;
  ASSERT_TRUE(absl::SimpleAtoi(payload, &rev)) << payload;
  EXPECT_EQ(rev, ev[0][0].as<int64_t>());
}

// Threat checklist #10 (NOTIFY fails): with every NOTIFY failing (pg_notify
// shadowed by a function that raises, ahead of pg_catalog on the search
// path), a revoke still returns OK, is committed, and its event is in the
// feed for readers that poll.
TEST(FeedPayloadTest, RevokeCommitsWhenNotifyFails) {
  auto db = pat::testing::TestDatabase::Create();
  ASSERT_THAT(db, IsOk());
  {
    pqxx::connection c((*db)->url());
    pqxx::work w(c);
    w.exec(
        "CREATE FUNCTION public.pg_notify(text, text) RETURNS void AS $$ "
        "BEGIN RAISE EXCEPTION 'injected notify failure'; END $$ "
        "LANGUAGE plpgsql");
    w.exec(absl::StrCat("ALTER DATABASE ", c.quote_name((*db)->name()),
                        " SET search_path = public, pg_catalog"));
    w.commit();
  }
  {
    // The shadowing is in effect for new sessions.
    pqxx::connection c((*db)->url());
    pqxx::nontransaction nt(c);
    EXPECT_THROW(nt.exec("SELECT pg_notify('pat_grants', '1')"),
                 pqxx::sql_error);
  }
  auto pool = DbPool::Create((*db)->url(), 2, absl::Seconds(5));
  ASSERT_THAT(pool, IsOk());
  auto store = PgTokenStore::Create(**pool);
  ASSERT_THAT(store, IsOk());
  const absl::Time now = absl::FromUnixSeconds(1767225600);
  ASSERT_THAT((*store)->UpsertPlan(
                  Plan{kPlan, "Deaf", PlanTier::kEnterprise, {"alice"}}, now,
                  PlanSweep{}),
              IsOk());
  NewToken nt;
  Token& t = nt.token;
  t.id = "tok_NOTIFYNOTIFYNOTIFYNOTI";
  t.plan_id = kPlan;
  t.kind = TokenKind::kRestApi;
  t.name = "deaf";
  t.scopes = {"file_content:read"};
  t.all_resources = true;
  t.created_by = "alice";
  t.create_time = now;
  t.lifetime_days = 30;
  t.expire_time = now + absl::Hours(24 * 30);
  nt.secret_digest = Sha256("deaf-secret");
  nt.actor = "alice";
  ASSERT_THAT((*store)->CreateToken(nt, IdempotencyKey{}, nullptr), IsOk());
  auto revoked = (*store)->MutateToken(
      kPlan, t.id, "alice", now, IdempotencyKey{}, nullptr,
      [&](const Token& current) -> absl::StatusOr<TokenMutation> {
        TokenMutation m;
        m.changed = true;
        m.action = "revoke";
        m.updated = current;
        m.updated.revoke_time = now;
        m.updated.revoked_by = "alice";
        m.end_all_secrets = true;
        return m;
      });
  ASSERT_THAT(revoked, IsOk());
  auto got = (*store)->GetToken(kPlan, t.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->revoke_time.has_value());
  // A polling reader finds the revoke on the feed.
  auto events = (*store)->ReadFeedEvents(0, 100);
  ASSERT_THAT(events, IsOk());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().key, t.id);
  EXPECT_NE(events->back().payload_json.find("\"revoke_time_us\":"),
            std::string::npos);
  EXPECT_EQ(events->back().payload_json.find("\"revoke_time_us\":null"),
            std::string::npos);
}

}  // namespace
}  // namespace pat
