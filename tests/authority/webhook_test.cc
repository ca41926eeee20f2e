// Lifecycle notifications end to end (docs/webhooks.md): real PostgreSQL,
// in-process pat-authority servers (restarted, and two at once on one
// database), and a real HTTP receiver (tests/support/webhook_receiver.h).
// Time that the logic sees is a FakeClock; waits poll with a deadline.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/webhooks.grpc.pb.h"
#include "pqxx/pqxx"
#include "server/authority_config.h"
#include "server/authority_server.h"
#include "server/webhooks/signature.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"
#include "tests/support/webhook_receiver.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::absl::StatusCode;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Request = WebhookReceiver::Request;
using json = nlohmann::json;

constexpr absl::Duration kWait = absl::Seconds(20);

// One in-process authority on the shared database and clock.
struct Authority {
  std::unique_ptr<AuthorityServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::TokenService::Stub> tokens;
  std::unique_ptr<v1::DirectoryService::Stub> directory;
  std::unique_ptr<v1::WebhookService::Stub> webhooks;

  ~Authority() {
    if (server != nullptr) {
      server->Shutdown(absl::ZeroDuration());
      server->Wait();
    }
  }
};

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& actor) {
  return AuthorityHarness::Ctx(actor);
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    receiver_.Start();
    other_receiver_.Start();
    a_ = Start(true);
    ASSERT_NE(a_, nullptr);
    Seed(*a_);
  }

  std::unique_ptr<Authority> Start(bool webhooks) {
    AuthorityConfig raw;
    raw.listen = "127.0.0.1:0";
    raw.admin_listen = "";
    raw.database_url = db_->url();
    raw.insecure = true;
    raw.auto_migrate = true;
    raw.webhooks.enabled = webhooks;
    raw.webhooks.workers = 4;
    raw.webhooks.max_attempts = 3;
    raw.webhooks.backoff_base = absl::Seconds(1);
    raw.webhooks.backoff_max = absl::Seconds(4);
    raw.webhooks.request_deadline = absl::Seconds(2);
    raw.webhooks.poll_interval = absl::Milliseconds(20);
    absl::StatusOr<AuthorityConfig> config = ValidateAuthorityConfig(raw);
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    auto a = std::make_unique<Authority>();
    absl::StatusOr<std::unique_ptr<AuthorityServer>> s =
        AuthorityServer::Create(*config, clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    a->server = *std::move(s);
    a->channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", a->server->port()),
                            grpc::InsecureChannelCredentials());
    a->tokens = v1::TokenService::NewStub(a->channel);
    a->directory = v1::DirectoryService::NewStub(a->channel);
    a->webhooks = v1::WebhookService::NewStub(a->channel);
    return a;
  }

  void Seed(Authority& a) {
    for (const auto& [id, tier, admin] :
         std::vector<std::tuple<std::string, v1::PlanTier, std::string>>{
             {kPlanA, v1::PLAN_TIER_ORGANIZATION, kAlice},
             {kPlanB, v1::PLAN_TIER_ENTERPRISE, kBob},
             {kPlanS, v1::PLAN_TIER_STARTER, kSam}}) {
      v1::UpsertPlanRequest req;
      req.mutable_plan()->set_id(id);
      req.mutable_plan()->set_name(id);
      req.mutable_plan()->set_tier(tier);
      req.mutable_plan()->add_admin_user_ids(admin);
      v1::Plan resp;
      ASSERT_THAT(a.directory->UpsertPlan(Ctx("").get(), req, &resp), IsOk());
    }
  }

  v1::CreateWebhookSubscriptionResponse Subscribe(
      Authority& a, const std::string& actor, const std::string& plan,
      const std::string& url, std::vector<std::string> types = {}) {
    v1::CreateWebhookSubscriptionRequest req;
    req.set_plan_id(plan);
    req.set_url(url);
    for (const std::string& t : types) req.add_event_types(t);
    v1::CreateWebhookSubscriptionResponse resp;
    EXPECT_THAT(
        a.webhooks->CreateWebhookSubscription(Ctx(actor).get(), req, &resp),
        IsOk());
    return resp;
  }

  v1::CreateTokenResponse CreateToken(Authority& a, const std::string& actor,
                                      const std::string& plan, int days = 30) {
    v1::CreateTokenRequest req = MakeCreateRequest(plan);
    req.set_expires_in_days(days);
    v1::CreateTokenResponse resp;
    EXPECT_THAT(a.tokens->CreateToken(Ctx(actor).get(), req, &resp), IsOk());
    return resp;
  }

  int64_t Sql(const std::string& query) {
    pqxx::connection c(db_->url());
    pqxx::nontransaction nt(c);
    pqxx::result r = nt.exec(query);
    return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<int64_t>();
  }

  // Polls (real time) until `query` returns `want`.
  bool WaitSql(const std::string& query, int64_t want,
               const std::function<void()>& each = nullptr) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      if (Sql(query) == want) return true;
      if (each) each();
      absl::SleepFor(absl::Milliseconds(20));
    }
    return Sql(query) == want;
  }

  // Counts deliveries that failed `attempts` times and wait for their retry,
  // not in flight: a claim pushes next_attempt_at 4.04 s ahead (2 x deadline
  // + 2 x poll), a recorded failure at most 2 s (backoffs of attempts 1, 2).
  std::string Settled(int attempts) const {
    return absl::StrCat(
        "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending' AND "
        "last_error <> '' AND attempts = ",
        attempts, " AND next_attempt_at < pat_ts(",
        absl::ToUnixMicros(clock_.Now() + absl::Seconds(3)), ")");
  }

  std::string NowSql() const {
    return absl::StrCat("pat_ts(", absl::ToUnixMicros(clock_.Now()), ")");
  }

  bool AllDelivered() {
    return WaitSql(
        "SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'",
        0);
  }

  static json Body(const Request& r) { return json::parse(r.body); }

  static std::vector<Request> OfType(const std::vector<Request>& all,
                                     const std::string& type) {
    std::vector<Request> out;
    for (const Request& r : all) {
      if (Body(r)["type"] == type) out.push_back(r);
    }
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<TestDatabase> db_;
  WebhookReceiver receiver_;
  WebhookReceiver other_receiver_;
  std::unique_ptr<Authority> a_;
};

TEST_F(WebhookTest, EveryEventTypeIsDeliveredSignedAndOnlyToItsPlan) {
  const auto sub = Subscribe(*a_, kAlice, kPlanA, receiver_.url());
  const auto bob_sub = Subscribe(*a_, kBob, kPlanB, other_receiver_.url());
  ASSERT_THAT(sub.signing_secret(), HasSubstr("whsec_"));
  clock_.Advance(absl::Seconds(1));

  std::vector<std::string> secrets;
  const auto t1 = CreateToken(*a_, kAlice, kPlanA);
  const auto t2 = CreateToken(*a_, kAlice, kPlanA);
  const auto leaked = CreateToken(*a_, kAlice, kPlanA);
  const auto flagged = CreateToken(*a_, kAlice, kPlanA);
  secrets = {t1.secret(), t2.secret(), leaked.secret(), flagged.secret()};
  v1::UpdateTokenRequest u =
      MakeUpdateRequest(kPlanA, t1.token().id(), {"description"});
  u.set_description("edited");
  v1::Token updated;
  ASSERT_THAT(a_->tokens->UpdateToken(Ctx(kAlice).get(), u, &updated), IsOk());
  v1::RefreshTokenRequest rr;
  rr.set_plan_id(kPlanA);
  rr.set_token_id(t1.token().id());
  v1::RefreshTokenResponse refreshed;
  ASSERT_THAT(a_->tokens->RefreshToken(Ctx(kAlice).get(), rr, &refreshed),
              IsOk());
  secrets.push_back(refreshed.secret());
  v1::RevokeTokenRequest rv;
  rv.set_plan_id(kPlanA);
  rv.set_token_id(t2.token().id());
  v1::Token revoked;
  ASSERT_THAT(a_->tokens->RevokeToken(Ctx(kAlice).get(), rv, &revoked), IsOk());
  // The leak intake's audit contract (COMMON.md #15): a leak revoke and a
  // leak flag.
  Sql(absl::StrCat(
      "INSERT INTO audit_events (plan_id, token_id, actor, action, time, "
      "details) VALUES ('",
      kPlanA, "', '", leaked.token().id(), "', 'scanner', 'revoke', ", NowSql(),
      ", '{\"reason\":\"leaked\",\"source\":"
      "\"github\",\"url\":\"https://github.com/x/y/blob/main/a\",\"type\":"
      "\"pat_rest\"}'), ('",
      kPlanA, "', '", flagged.token().id(), "', 'scanner', 'leak_flagged', ",
      NowSql(),
      ", '{\"reason\":\"leaked\","
      "\"source\":\"github\",\"url\":\"https://github.com/x/y\"}')"));
  // A plan-B token: Bob's receiver only.
  const auto b1 = CreateToken(*a_, kBob, kPlanB);

  auto has = [](const std::string& type, int n) {
    return [type, n](const std::vector<Request>& all) {
      return static_cast<int>(OfType(all, type).size()) >= n;
    };
  };
  ASSERT_TRUE(receiver_.WaitFor(has("token.created", 4)));
  ASSERT_TRUE(receiver_.WaitFor(has("token.updated", 1)));
  ASSERT_TRUE(receiver_.WaitFor(has("token.refreshed", 1)));
  ASSERT_TRUE(receiver_.WaitFor(has("token.revoked", 1)));
  ASSERT_TRUE(receiver_.WaitFor(has("token.leaked", 2)));
  // The previous secret of t1 ends 24 h after the refresh (reported 1 h
  // before); t1, leaked (not really revoked by the SQL row) and flagged
  // expire in 30 days.
  // Before each jump of the clock, every delivery so far is recorded: a
  // jump past an in-flight claim (4 s) would rightly send it again.
  ASSERT_TRUE(AllDelivered());
  clock_.Advance(absl::Hours(23) + absl::Minutes(30));
  ASSERT_TRUE(receiver_.WaitFor(has("token.previous_secret_ending", 1)));
  ASSERT_TRUE(AllDelivered());
  clock_.Advance(absl::Hours(24 * 22 + 12));  // 6 d 12.5 h before expiry
  ASSERT_TRUE(receiver_.WaitFor(has("token.expiring_7d", 3)));
  ASSERT_TRUE(AllDelivered());
  clock_.Advance(absl::Hours(24 * 6));  // 12.5 h before
  ASSERT_TRUE(receiver_.WaitFor(has("token.expiring_1d", 3)));
  ASSERT_TRUE(AllDelivered());
  clock_.Advance(absl::Hours(24));
  ASSERT_TRUE(receiver_.WaitFor(has("token.expired", 3)));
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "state <> 'delivered'",
              0));

  const std::vector<Request> got = receiver_.requests();
  std::map<std::string, int> by_type;
  std::set<std::string> keys;
  for (const Request& r : got) {
    SCOPED_TRACE(r.body);
    const json body = Body(r);
    ++by_type[body["type"].get<std::string>()];
    keys.insert(body["idempotency_key"].get<std::string>());
    EXPECT_EQ(body["plan_id"], kPlanA);
    EXPECT_EQ(r.event_type, body["type"]);
    EXPECT_EQ(r.idempotency_key, body["idempotency_key"]);
    EXPECT_EQ(body["idempotency_key"],
              absl::StrCat(sub.subscription().id(), ":",
                           body["event_id"].get<int64_t>()));
    EXPECT_NE(body["token_id"], b1.token().id());
    // Signed with this subscription's secret, not with another's.
    EXPECT_THAT(
        webhooks::VerifySignature(sub.signing_secret(), r.signature, r.body,
                                  clock_.Now(), absl::Hours(24 * 31)),
        IsOk());
    EXPECT_THAT(
        webhooks::VerifySignature(bob_sub.signing_secret(), r.signature, r.body,
                                  clock_.Now(), absl::Hours(24 * 31)),
        StatusCodeIs(StatusCode::kUnauthenticated));
    // A tampered body fails.
    EXPECT_THAT(webhooks::VerifySignature(sub.signing_secret(), r.signature,
                                          r.body + " ", clock_.Now(),
                                          absl::Hours(24 * 31)),
                StatusCodeIs(StatusCode::kUnauthenticated));
    for (const std::string& s : secrets) {
      EXPECT_THAT(r.body, ::testing::Not(HasSubstr(s)));
    }
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr(sub.signing_secret())));
  }
  EXPECT_EQ(keys.size(), got.size()) << "a duplicate delivery";
  const std::map<std::string, int> want = {
      {"token.created", 4},     {"token.updated", 1},
      {"token.refreshed", 1},   {"token.revoked", 1},
      {"token.leaked", 2},      {"token.previous_secret_ending", 1},
      {"token.expiring_7d", 3}, {"token.expiring_1d", 3},
      {"token.expired", 3},
  };
  EXPECT_EQ(by_type, want);
  // The leak's details reach the receiver (never the secret).
  for (const Request& r : OfType(got, "token.leaked")) {
    const json body = Body(r);
    EXPECT_EQ(body["data"]["source"], "github");
    EXPECT_EQ(body["data"]["revoked"], body["token_id"] == leaked.token().id());
  }
  // Bob's receiver saw plan B only: one created, then its expiry events.
  for (const Request& r : other_receiver_.requests()) {
    EXPECT_EQ(Body(r)["plan_id"], kPlanB);
  }
  EXPECT_THAT(OfType(other_receiver_.requests(), "token.created"), SizeIs(1));
}

TEST_F(WebhookTest, EventTypeFilterDeliversOnlyThoseTypes) {
  Subscribe(*a_, kAlice, kPlanA, receiver_.url(), {"token.revoked"});
  clock_.Advance(absl::Seconds(1));
  const auto t = CreateToken(*a_, kAlice, kPlanA);
  v1::RevokeTokenRequest rv;
  rv.set_plan_id(kPlanA);
  rv.set_token_id(t.token().id());
  v1::Token revoked;
  ASSERT_THAT(a_->tokens->RevokeToken(Ctx(kAlice).get(), rv, &revoked), IsOk());
  ASSERT_TRUE(WaitSql("SELECT count(*) FROM webhook_outbox", 0));
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "state = 'delivered'",
              1));
  ASSERT_THAT(receiver_.requests(), SizeIs(1));
  EXPECT_EQ(Body(receiver_.requests()[0])["type"], "token.revoked");
}

TEST_F(WebhookTest, RetriesAcrossReceiverDowntimeThenDelivers) {
  Subscribe(*a_, kAlice, kPlanA, receiver_.url());
  clock_.Advance(absl::Seconds(1));
  receiver_.Stop();  // connection refused
  CreateToken(*a_, kAlice, kPlanA);
  ASSERT_TRUE(WaitSql(Settled(1), 1));
  EXPECT_EQ(Sql("SELECT count(*) FROM webhook_deliveries WHERE "
                "last_error LIKE 'connect:%'"),
            1);
  clock_.Advance(absl::Seconds(5));  // past the first backoff (<= 1 s)
  ASSERT_TRUE(WaitSql(Settled(2), 1));
  receiver_.Start();
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(receiver_.WaitFor(
      [](const std::vector<Request>& r) { return !r.empty(); }));
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "state = 'delivered' AND attempts = 3",
              1));
  ASSERT_THAT(receiver_.requests(), SizeIs(1));
  EXPECT_EQ(receiver_.requests()[0].attempt, "3");
}

TEST_F(WebhookTest, ARetriedDeliveryKeepsItsIdempotencyKey) {
  Subscribe(*a_, kAlice, kPlanA, receiver_.url());
  clock_.Advance(absl::Seconds(1));
  // The receiver records the request, then answers 503: it is sent again.
  receiver_.FailNext(1, 503);
  CreateToken(*a_, kAlice, kPlanA);
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "last_error = 'http 503'",
              1));
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "state = 'delivered'",
              1));
  const std::vector<Request> got = receiver_.requests();
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_EQ(got[0].idempotency_key, got[1].idempotency_key);
  EXPECT_EQ(Body(got[0])["idempotency_key"], Body(got[1])["idempotency_key"]);
  EXPECT_EQ(Body(got[0])["event_id"], Body(got[1])["event_id"]);
}

TEST_F(WebhookTest, DeadLetterAfterMaxAttemptsIsListedAndRedelivered) {
  const auto sub = Subscribe(*a_, kAlice, kPlanA, receiver_.url());
  clock_.Advance(absl::Seconds(1));
  receiver_.Stop();
  const auto t = CreateToken(*a_, kAlice, kPlanA);
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE state = 'dead'", 1,
              [&] { clock_.Advance(absl::Seconds(5)); }));

  v1::ListWebhookDeadLettersRequest lr;
  lr.set_plan_id(kPlanA);
  v1::ListWebhookDeadLettersResponse dead;
  ASSERT_THAT(
      a_->webhooks->ListWebhookDeadLetters(Ctx(kAlice).get(), lr, &dead),
      IsOk());
  ASSERT_THAT(dead.dead_letters(), SizeIs(1));
  const v1::WebhookDeadLetter d = dead.dead_letters(0);
  EXPECT_EQ(d.subscription_id(), sub.subscription().id());
  EXPECT_EQ(d.event_type(), "token.created");
  EXPECT_EQ(d.token_id(), t.token().id());
  EXPECT_EQ(d.attempts(), 3);
  EXPECT_THAT(d.last_error(), HasSubstr("connect"));
  // Bob sees none of it, in his plan or in Alice's.
  lr.set_plan_id(kPlanB);
  v1::ListWebhookDeadLettersResponse bobs;
  ASSERT_THAT(a_->webhooks->ListWebhookDeadLetters(Ctx(kBob).get(), lr, &bobs),
              IsOk());
  EXPECT_THAT(bobs.dead_letters(), IsEmpty());
  lr.set_plan_id(kPlanA);
  EXPECT_THAT(a_->webhooks->ListWebhookDeadLetters(Ctx(kBob).get(), lr, &bobs),
              StatusCodeIs(StatusCode::kPermissionDenied));

  receiver_.Start();
  v1::RedeliverWebhookDeadLetterRequest rd;
  rd.set_plan_id(kPlanA);
  rd.set_subscription_id(d.subscription_id());
  rd.set_event_id(d.event_id());
  v1::RedeliverWebhookDeadLetterResponse ok;
  // Not Bob's to redeliver.
  EXPECT_THAT(
      a_->webhooks->RedeliverWebhookDeadLetter(Ctx(kBob).get(), rd, &ok),
      StatusCodeIs(StatusCode::kPermissionDenied));
  ASSERT_THAT(
      a_->webhooks->RedeliverWebhookDeadLetter(Ctx(kAlice).get(), rd, &ok),
      IsOk());
  ASSERT_TRUE(receiver_.WaitFor(
      [](const std::vector<Request>& r) { return r.size() == 1; }));
  EXPECT_EQ(receiver_.requests()[0].idempotency_key, d.idempotency_key());
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "state = 'delivered'",
              1));
  dead.Clear();
  ASSERT_THAT(
      a_->webhooks->ListWebhookDeadLetters(Ctx(kAlice).get(), lr, &dead),
      IsOk());
  EXPECT_THAT(dead.dead_letters(), IsEmpty());
  // Delivered: no longer a dead letter to redeliver.
  EXPECT_THAT(
      a_->webhooks->RedeliverWebhookDeadLetter(Ctx(kAlice).get(), rd, &ok),
      StatusCodeIs(StatusCode::kNotFound));
}

TEST_F(WebhookTest, NothingIsLostAcrossAnAuthorityRestart) {
  Subscribe(*a_, kAlice, kPlanA, receiver_.url());
  clock_.Advance(absl::Seconds(1));
  // 1. Written to the outbox by an authority that never delivers.
  a_.reset();
  a_ = Start(false);
  ASSERT_NE(a_, nullptr);
  std::set<std::string> created;
  for (int i = 0; i < 3; ++i) {
    created.insert(CreateToken(*a_, kAlice, kPlanA).token().id());
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM webhook_outbox"), 3);
  // 2. Pending retries when the authority stops.
  a_.reset();
  a_ = Start(true);
  ASSERT_NE(a_, nullptr);
  receiver_.Stop();
  created.insert(CreateToken(*a_, kAlice, kPlanA).token().id());
  ASSERT_TRUE(WaitSql(Settled(1), 4));
  a_.reset();
  receiver_.Start();
  a_ = Start(true);
  ASSERT_NE(a_, nullptr);
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "state = 'delivered'",
              4));
  std::set<std::string> got;
  for (const Request& r : receiver_.requests()) {
    got.insert(Body(r)["token_id"].get<std::string>());
  }
  EXPECT_EQ(got, created);
  EXPECT_THAT(receiver_.requests(), SizeIs(4));
}

TEST_F(WebhookTest, TwoAuthoritiesEmitEachExpiryEventOnce) {
  Subscribe(*a_, kAlice, kPlanA, receiver_.url(), {"token.expiring_7d"});
  std::unique_ptr<Authority> second = Start(true);
  ASSERT_NE(second, nullptr);
  clock_.Advance(absl::Seconds(1));
  std::set<std::string> tokens;
  for (int i = 0; i < 5; ++i) {
    tokens.insert(
        CreateToken(i % 2 ? *a_ : *second, kAlice, kPlanA).token().id());
  }
  clock_.Advance(absl::Hours(24 * 25));
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_deliveries WHERE "
              "state = 'delivered'",
              5));
  // Both replicas keep polling (and contending for the lease) meanwhile.
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(
      WaitSql("SELECT count(*) FROM webhook_leases WHERE "
              "expires_at > pat_ts(" +
                  absl::StrCat(absl::ToUnixMicros(clock_.Now())) + ")",
              1));
  EXPECT_EQ(Sql("SELECT count(*) FROM webhook_events WHERE "
                "type = 'token.expiring_7d'"),
            5);
  EXPECT_EQ(Sql("SELECT count(*) FROM webhook_deliveries"), 5);
  std::multiset<std::string> got;
  for (const Request& r : receiver_.requests()) {
    got.insert(Body(r)["token_id"].get<std::string>());
  }
  EXPECT_EQ(got, std::multiset<std::string>(tokens.begin(), tokens.end()));
}

// BOLA/BFLA for WebhookService, enumerated from its descriptor: a method
// without a row fails the test.
using WebhookCall = std::function<grpc::Status(
    Authority&, const std::string& actor, const std::string& plan,
    const std::string& subscription_id)>;

std::map<std::string, WebhookCall> WebhookRpcs() {
  return {
      {"CreateWebhookSubscription",
       [](Authority& a, const std::string& actor, const std::string& plan,
          const std::string&) {
         v1::CreateWebhookSubscriptionRequest req;
         req.set_plan_id(plan);
         req.set_url("http://127.0.0.1:1/x");
         v1::CreateWebhookSubscriptionResponse resp;
         return a.webhooks->CreateWebhookSubscription(Ctx(actor).get(), req,
                                                      &resp);
       }},
      {"ListWebhookSubscriptions",
       [](Authority& a, const std::string& actor, const std::string& plan,
          const std::string&) {
         v1::ListWebhookSubscriptionsRequest req;
         req.set_plan_id(plan);
         v1::ListWebhookSubscriptionsResponse resp;
         return a.webhooks->ListWebhookSubscriptions(Ctx(actor).get(), req,
                                                     &resp);
       }},
      {"DeleteWebhookSubscription",
       [](Authority& a, const std::string& actor, const std::string& plan,
          const std::string& id) {
         v1::DeleteWebhookSubscriptionRequest req;
         req.set_plan_id(plan);
         req.set_subscription_id(id);
         v1::DeleteWebhookSubscriptionResponse resp;
         return a.webhooks->DeleteWebhookSubscription(Ctx(actor).get(), req,
                                                      &resp);
       }},
      {"ListWebhookDeadLetters",
       [](Authority& a, const std::string& actor, const std::string& plan,
          const std::string& id) {
         v1::ListWebhookDeadLettersRequest req;
         req.set_plan_id(plan);
         req.set_subscription_id(id);
         v1::ListWebhookDeadLettersResponse resp;
         return a.webhooks->ListWebhookDeadLetters(Ctx(actor).get(), req,
                                                   &resp);
       }},
      {"RedeliverWebhookDeadLetter",
       [](Authority& a, const std::string& actor, const std::string& plan,
          const std::string& id) {
         v1::RedeliverWebhookDeadLetterRequest req;
         req.set_plan_id(plan);
         req.set_subscription_id(id);
         req.set_event_id(1);
         v1::RedeliverWebhookDeadLetterResponse resp;
         return a.webhooks->RedeliverWebhookDeadLetter(Ctx(actor).get(), req,
                                                       &resp);
       }},
  };
}

TEST_F(WebhookTest, EveryRpcRefusesEveryoneButThePlansAdmins) {
  const auto bob_sub = Subscribe(*a_, kBob, kPlanB, other_receiver_.url());
  const std::string bobs = bob_sub.subscription().id();
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::WebhookService::service_full_name());
  ASSERT_NE(service, nullptr);
  const std::map<std::string, WebhookCall> rpcs = WebhookRpcs();
  struct Row {
    std::string actor, plan;
    StatusCode expected;
  };
  const std::vector<Row> rows = {
      {kAlice, kPlanB, StatusCode::kPermissionDenied},
      {kMallory, kPlanB, StatusCode::kPermissionDenied},
      {kAlice, kUnknownPlan, StatusCode::kPermissionDenied},
      {kNoActor, kPlanB, StatusCode::kUnauthenticated},
  };
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string name(service->method(i)->name());
    auto it = rpcs.find(name);
    ASSERT_NE(it, rpcs.end()) << name << " has no row: add one";
    for (const Row& row : rows) {
      SCOPED_TRACE(absl::StrCat(name, " as '", row.actor, "' on ", row.plan));
      EXPECT_THAT(it->second(*a_, row.actor, row.plan, bobs),
                  StatusCodeIs(row.expected));
    }
    // Alice in her own plan naming Bob's subscription: like an unknown id.
    if (name == "DeleteWebhookSubscription" ||
        name == "RedeliverWebhookDeadLetter") {
      EXPECT_THAT(it->second(*a_, kAlice, kPlanA, bobs),
                  StatusCodeIs(StatusCode::kNotFound));
    }
  }
  EXPECT_EQ(rpcs.size(), static_cast<size_t>(service->method_count()));
  // Creating needs a tier that allows tokens (like CreateToken).
  EXPECT_THAT(rpcs.at("CreateWebhookSubscription")(*a_, kSam, kPlanS, ""),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  // Bob's subscription is intact and Alice's listing never shows it.
  v1::ListWebhookSubscriptionsRequest req;
  req.set_plan_id(kPlanB);
  v1::ListWebhookSubscriptionsResponse resp;
  ASSERT_THAT(
      a_->webhooks->ListWebhookSubscriptions(Ctx(kBob).get(), req, &resp),
      IsOk());
  ASSERT_THAT(resp.subscriptions(), SizeIs(1));
  EXPECT_EQ(resp.subscriptions(0).id(), bobs);
  req.set_plan_id(kPlanA);
  resp.Clear();
  ASSERT_THAT(
      a_->webhooks->ListWebhookSubscriptions(Ctx(kAlice).get(), req, &resp),
      IsOk());
  EXPECT_THAT(resp.subscriptions(), IsEmpty());
}

TEST_F(WebhookTest, CreateRefusesBadUrlsAndTypes) {
  for (const char* url : {"", "ftp://x/", "http://", "http://user@h/",
                          "http://h:0/", "http://h:99999/", "http://h/#frag",
                          "http://h /", "https://example.com/hook"}) {
    SCOPED_TRACE(url);
    v1::CreateWebhookSubscriptionRequest req;
    req.set_plan_id(kPlanA);
    req.set_url(url);
    v1::CreateWebhookSubscriptionResponse resp;
    EXPECT_THAT(
        a_->webhooks->CreateWebhookSubscription(Ctx(kAlice).get(), req, &resp),
        StatusCodeIs(StatusCode::kInvalidArgument));
    EXPECT_TRUE(resp.signing_secret().empty());
  }
  for (const std::vector<std::string>& types :
       std::vector<std::vector<std::string>>{
           {"token.nope"}, {"token.created", "token.created"}}) {
    v1::CreateWebhookSubscriptionRequest req;
    req.set_plan_id(kPlanA);
    req.set_url(receiver_.url());
    for (const std::string& t : types) req.add_event_types(t);
    v1::CreateWebhookSubscriptionResponse resp;
    EXPECT_THAT(
        a_->webhooks->CreateWebhookSubscription(Ctx(kAlice).get(), req, &resp),
        StatusCodeIs(StatusCode::kInvalidArgument));
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM webhook_subscriptions"), 0);
}

}  // namespace
}  // namespace pat::testing
