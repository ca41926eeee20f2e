// The change feed and the sidecar's cache under faults, with the real
// binaries (pat-authority, pat-sidecar --staleness_bound=2s,
// pat-sample-upstream) on a real PostgreSQL:
//  * the authority's LISTEN connection killed during a burst of 50 revokes:
//    all 50 are denied at the sidecar (threat #8);
//  * a sidecar restart resyncs (revokes and creates made while it was down);
//  * the authority stopped: cached grants are served until the staleness
//    bound, then 503 authority_unavailable; unknown tokens are 503 at once;
//    the authority restarted: the sidecar recovers (threats #14, #32).

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

constexpr char kFileA1[] = "/v1/files/FILEA1";
constexpr absl::Duration kStalenessBound = absl::Seconds(2);

class FeedResilienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BinaryStackOptions options;
    options.staleness_bound = kStalenessBound;
    stack_ = BinaryStack::Start(options);
    ASSERT_NE(stack_, nullptr);
    ASSERT_NO_FATAL_FAILURE(stack_->SeedWorld());
    ASSERT_TRUE(
        WaitFor([&] { return stack_->SidecarReady(); }, absl::Seconds(15)))
        << stack_->sidecar().Logs();
  }

  IssuedToken Create() {
    v1::CreateTokenRequest req = MakeCreateRequest();
    v1::CreateTokenResponse resp =
        CreateTokenVia(stack_->tokens(), kAlice, req);
    return {resp.token().id(), resp.secret()};
  }

  HttpResponse Get(absl::string_view secret) {
    return HttpGet(stack_->sidecar_port(), kFileA1, Bearer(secret));
  }

  // pg_terminate_backend on the authority's feed listener connection(s);
  // how many were terminated.
  int KillFeedListener() {
    pqxx::connection conn(stack_->db().url());
    pqxx::nontransaction nt(conn);
    pqxx::result r = nt.exec(absl::StrCat(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'pat-feed-listener' AND datname = ",
        nt.quote(stack_->db().name())));
    int killed = 0;
    for (const auto& row : r) killed += row[0].as<bool>() ? 1 : 0;
    return killed;
  }

  int ListenerCount() {
    pqxx::connection conn(stack_->db().url());
    pqxx::nontransaction nt(conn);
    return nt
        .exec1(absl::StrCat(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = 'pat-feed-listener' AND datname = ",
            nt.quote(stack_->db().name())))[0]
        .as<int>();
  }

  std::unique_ptr<BinaryStack> stack_;
};

TEST_F(FeedResilienceTest, ListenerKilledDuringRevokeBurst) {
  constexpr int kTokens = 50;
  std::vector<IssuedToken> tokens;
  for (int i = 0; i < kTokens; ++i) tokens.push_back(Create());
  ASSERT_FALSE(HasFailure());
  // Every token hot in the sidecar's cache.
  for (const IssuedToken& t : tokens) {
    ASSERT_EQ(Get(t.secret).status, 200) << t.id;
  }
  ASSERT_EQ(ListenerCount(), 1);

  // The burst, with the listener killed before it, in the middle, and
  // right after the last revoke.
  int killed = KillFeedListener();
  for (int i = 0; i < kTokens; ++i) {
    RevokeTokenVia(stack_->tokens(), kAlice, kPlanA, tokens[i].id);
    if (i == kTokens / 2) killed += KillFeedListener();
  }
  killed += KillFeedListener();
  ASSERT_FALSE(HasFailure());
  EXPECT_GE(killed, 1) << "no listener connection was terminated";

  // Every one denied, once the listener has caught up (reconnect + poll).
  for (const IssuedToken& t : tokens) {
    EXPECT_TRUE(
        WaitFor([&] { return Get(t.secret).status == 401; }, absl::Seconds(15)))
        << t.id << " still served after its revoke";
    ExpectDenied(Get(t.secret), 401, "token_revoked");
  }
  // The listener is back, and later changes flow again.
  EXPECT_TRUE(WaitFor([&] { return ListenerCount() == 1; }));
  const IssuedToken later = Create();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(Get(later.secret).status, 200);
  RevokeTokenVia(stack_->tokens(), kAlice, kPlanA, later.id);
  const absl::Time revoked = absl::Now();
  EXPECT_TRUE(WaitFor([&] { return Get(later.secret).status == 401; },
                      absl::Seconds(1)))
      << "revoke after the listener reconnected not denied within 1 s";
  std::cout << "[feed] listener connections terminated: " << killed
            << "; post-reconnect revoke denied after "
            << absl::ToDoubleMilliseconds(absl::Now() - revoked) << " ms\n";
}

TEST_F(FeedResilienceTest, SidecarRestartResyncs) {
  const IssuedToken kept = Create();
  const IssuedToken revoked_while_down = Create();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(Get(kept.secret).status, 200);
  ASSERT_EQ(Get(revoked_while_down.secret).status, 200);

  stack_->sidecar().Stop();
  RevokeTokenVia(stack_->tokens(), kAlice, kPlanA, revoked_while_down.id);
  const IssuedToken created_while_down = Create();
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(stack_->sidecar().Restart());
  ASSERT_TRUE(
      WaitFor([&] { return stack_->SidecarReady(); }, absl::Seconds(15)));
  const int64_t before = stack_->upstream_count();
  EXPECT_EQ(ExpectForwarded(Get(kept.secret)).value("target", ""), kFileA1);
  EXPECT_EQ(Get(created_while_down.secret).status, 200);
  ExpectDenied(Get(revoked_while_down.secret), 401, "token_revoked");
  EXPECT_EQ(stack_->upstream_count(), before + 2);
}

TEST_F(FeedResilienceTest, AuthorityDownServesUntilStaleThenFailsClosed) {
  const IssuedToken t = Create();
  const IssuedToken revoked = Create();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(Get(t.secret).status, 200);
  RevokeTokenVia(stack_->tokens(), kAlice, kPlanA, revoked.id);
  ASSERT_TRUE(WaitFor([&] { return Get(revoked.secret).status == 401; },
                      absl::Seconds(1)));

  stack_->authority().Stop();  // SIGKILL
  const absl::Time down = absl::Now();

  // Cached grants still serve right after the authority went away (the last
  // message from it was at most a heartbeat, ~1 s, ago) ...
  ExpectForwarded(Get(t.secret));
  // ... an unknown token cannot be decided: 503 at once, not 401 ...
  ExpectDenied(Get(GenerateSecret(TokenKind::kRestApi)), 503,
               "authority_unavailable");
  // ... and a token the cache knows to be revoked stays a 401.
  ExpectDenied(Get(revoked.secret), 401, "token_revoked");

  // Poll: 200 while within the bound, then 503 for good. No request sent
  // later than (authority gone + bound) may be allowed.
  int served = 0;
  HttpResponse last;
  while (true) {
    const absl::Time sent = absl::Now();
    last = Get(t.secret);
    if (last.status == 200) {
      ++served;
      EXPECT_LT(sent, down + kStalenessBound + absl::Milliseconds(100))
          << "a cached grant was served past the staleness bound";
      ASSERT_LT(absl::Now() - down, absl::Seconds(15));
      continue;
    }
    break;
  }
  const absl::Duration stale_after = absl::Now() - down;
  ExpectDenied(last, 503, "authority_unavailable");
  EXPECT_EQ(last.Header("Retry-After"), "1");
  const int64_t before = stack_->upstream_count();
  ExpectDenied(Get(t.secret), 503, "authority_unavailable");
  ExpectDenied(Get(GenerateSecret(TokenKind::kRestApi)), 503,
               "authority_unavailable");
  ExpectDenied(Get(revoked.secret), 401, "token_revoked");
  EXPECT_EQ(stack_->upstream_count(), before);
  EXPECT_FALSE(stack_->SidecarReady());
  std::cout << "[feed] authority down: cached token served " << served
            << " times, 503 from " << absl::ToDoubleMilliseconds(stale_after)
            << " ms after the authority stopped (bound 2000 ms)\n";

  // Back: the sidecar reconnects and serves again.
  ASSERT_TRUE(stack_->authority().Restart());
  EXPECT_TRUE(
      WaitFor([&] { return Get(t.secret).status == 200; }, absl::Seconds(15)))
      << stack_->sidecar().Logs();
  EXPECT_TRUE(WaitFor([&] { return stack_->SidecarReady(); }));
  ExpectDenied(Get(revoked.secret), 401, "token_revoked");
  ExpectDenied(Get(GenerateSecret(TokenKind::kRestApi)), 401, "token_unknown");
}

}  // namespace
}  // namespace pat::testing
