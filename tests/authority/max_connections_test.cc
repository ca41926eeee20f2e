// PostgreSQL's max_connections reached (threat checklist #7), on a private
// cluster with max_connections = 12: other clients take every free slot and
// the authority's pooled connections are terminated, so each RPC needs a new
// connection that PostgreSQL refuses ("too many clients").
//  * every lifecycle RPC and read fails UNAVAILABLE (retry later), and
//    returns well before its deadline (the pool's acquire timeout is 1 s;
//    no RPC waits for a slot that never frees);
//  * the sidecar keeps validating its cached tokens (kept allowed, revoked
//    denied token_revoked);
//  * when the slots free, the same authority serves again.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/private_cluster.h"
#include "tests/support/sidecar_harness.h"

namespace pat::testing {
namespace {

constexpr char kFileA1[] = "/v1/files/FILEA1";
constexpr int kMaxConnections = 12;
constexpr int kMaxHogs = 64;

std::unique_ptr<grpc::ClientContext> Ctx5s() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("x-pat-actor", kAlice);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return ctx;
}

TEST(MaxConnectionsTest, RpcsFailFastSidecarUnaffectedRecoveryAfter) {
  auto cluster = PrivateCluster::Start({.max_connections = kMaxConnections});
  ASSERT_NE(cluster, nullptr);
  cluster->UseForTestDatabases();
  HarnessOptions options;
  options.db_pool_size = 4;
  options.db_acquire_timeout = absl::Seconds(1);
  auto harness = AuthorityHarness::Start(options);
  ASSERT_NE(harness, nullptr);
  AuthorityHarness& h = *harness;
  SeedWorld(h);
  ASSERT_FALSE(::testing::Test::HasFailure());
  SidecarStackOptions sidecar_options;
  sidecar_options.staleness_bound = absl::Hours(1);
  auto sidecar = SidecarStack::Start(h, sidecar_options);
  ASSERT_NE(sidecar, nullptr);
  auto get = [&](const std::string& secret) {
    return HttpGet(sidecar->port(), kFileA1, Bearer(secret));
  };
  const v1::CreateTokenResponse kept =
      MustCreate(h, kAlice, MakeCreateRequest());
  const v1::CreateTokenResponse gone =
      MustCreate(h, kAlice, MakeCreateRequest());
  ASSERT_EQ(get(kept.secret()).status, 200);
  ASSERT_EQ(get(gone.secret()).status, 200);
  MustRevoke(h, kAlice, kPlanA, gone.token().id());
  ASSERT_TRUE(WaitFor([&] { return get(gone.secret()).status == 401; },
                      absl::Seconds(15)));

  // Take every slot, then drop the authority's pooled connections.
  const std::string hog_url = h.db().url() + "?application_name=pat-hog";
  std::vector<std::unique_ptr<pqxx::connection>> hogs;
  for (int i = 0; i < kMaxHogs; ++i) {
    try {
      hogs.push_back(std::make_unique<pqxx::connection>(hog_url));
    } catch (const pqxx::broken_connection&) {
      break;
    }
  }
  ASSERT_LT(hogs.size(), static_cast<size_t>(kMaxHogs));
  ASSERT_FALSE(hogs.empty());
  {
    pqxx::nontransaction nt(*hogs.back());
    nt.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
        "datname = current_database() AND pid <> pg_backend_pid() AND "
        "backend_type = 'client backend' AND application_name NOT IN "
        "('pat-feed-listener', 'pat-hog')");
  }
  // The slots they freed: taken too.
  for (int i = 0; i < kMaxHogs; ++i) {
    try {
      hogs.push_back(std::make_unique<pqxx::connection>(hog_url));
    } catch (const pqxx::broken_connection&) {
      break;
    }
  }

  for (int round = 0; round < 3; ++round) {
    v1::CreateTokenResponse c;
    const grpc::Status create =
        h.tokens().CreateToken(Ctx5s().get(), MakeCreateRequest(), &c);
    v1::RevokeTokenRequest rr;
    rr.set_plan_id(kPlanA);
    rr.set_token_id(kept.token().id());
    v1::Token r;
    const grpc::Status revoke = h.tokens().RevokeToken(Ctx5s().get(), rr, &r);
    for (const grpc::Status& s : {create, revoke}) {
      // UNAVAILABLE: the pool maps "too many clients" to it (retry later);
      // DEADLINE_EXCEEDED would mean the RPC hung.
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
          << s.error_code() << " " << s.error_message();
    }
    // The cache still decides.
    EXPECT_EQ(get(kept.secret()).status, 200);
    const HttpResponse denied = get(gone.secret());
    EXPECT_EQ(denied.status, 401) << denied.Describe();
  }
  v1::Token read;
  EXPECT_EQ(GetToken(h, kAlice, kPlanA, kept.token().id(), &read).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  hogs.clear();
  v1::CreateTokenResponse after;
  EXPECT_TRUE(WaitFor(
      [&] { return CreateToken(h, kAlice, MakeCreateRequest(), &after).ok(); },
      absl::Seconds(15)));
  EXPECT_EQ(MustRevoke(h, kAlice, kPlanA, kept.token().id()).status(),
            v1::TOKEN_STATUS_REVOKED);
  EXPECT_TRUE(WaitFor([&] { return get(kept.secret()).status == 401; },
                      absl::Seconds(15)));
}

}  // namespace
}  // namespace pat::testing
