// Threat checklist #10 (NOTIFY fails or its queue is full), against the real
// pat-authority: pg_notify is shadowed (ahead of pg_catalog on the
// database's search_path) by a function raising exactly what PostgreSQL
// raises for a full queue: SQLSTATE 54000 "too many notifications in the
// NOTIFY queue". Revokes still return OK and commit; a WatchGrants client
// still receives each of them (by polling); the LISTEN self-check reports
// that probes cannot be sent (metrics, log) and the replica stays ready,
// since no replica could receive notifications and polling serves.
// A real full queue is not reproduced: PostgreSQL 15 has no
// max_notify_queue_pages, and its fixed 8 GB queue takes minutes and 8 GB of
// disk to fill (docs/feed-faults.md).
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/support/feed_fault_support.h"
#include "tests/support/fixtures.h"
#include "tests/support/sidecar_harness.h"
#include "tests/support/test_database.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;

constexpr absl::Duration kBound = absl::Seconds(20);

std::unique_ptr<grpc::ClientContext> Ctx(absl::string_view actor) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  if (!actor.empty()) context->AddMetadata("x-pat-actor", std::string(actor));
  return context;
}

std::optional<double> Sample(const std::string& metrics,
                             absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, series)) continue;
    absl::string_view rest = line.substr(series.size());
    if (rest.empty() || rest[0] != ' ') continue;
    double value = 0;
    if (absl::SimpleAtod(rest.substr(1), &value)) return value;
  }
  return std::nullopt;
}

TEST(FeedNotifyFailTest, QueueFullRevokesCommitAndReachWatchersByPolling) {
  ASSERT_FALSE(BinaryFromEnv("PAT_AUTHORITY_BIN").empty());
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  {
    pqxx::connection c((*db)->url());
    pqxx::work w(c);
    w.exec(
        "CREATE FUNCTION public.pg_notify(text, text) RETURNS void AS $$ "
        "BEGIN RAISE EXCEPTION 'too many notifications in the NOTIFY queue' "
        "USING ERRCODE = 'program_limit_exceeded'; END $$ LANGUAGE plpgsql");
    w.exec(absl::StrCat("ALTER DATABASE ", c.quote_name((*db)->name()),
                        " SET search_path = public, pg_catalog"));
    w.commit();
  }
  {
    pqxx::connection c((*db)->url());
    pqxx::nontransaction nt(c);
    try {
      nt.exec("SELECT pg_notify('pat_grants', '1')");
      ADD_FAILURE() << "pg_notify is not shadowed";
    } catch (const pqxx::sql_error& e) {
      EXPECT_EQ(e.sqlstate(), "54000");
    }
  }
  std::unique_ptr<ServiceProcess> authority = ServiceProcess::Start(
      "pat-authority", BinaryFromEnv("PAT_AUTHORITY_BIN"),
      {"--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0", "--insecure",
       "--auto_migrate", absl::StrCat("--database_url=", (*db)->url()),
       "--feed_listen_check_interval=300ms",
       "--feed_listen_check_timeout=300ms"});
  ASSERT_NE(authority, nullptr);
  const int admin = authority->admin_port();
  auto metrics = [&] { return HttpGet(admin, "/metrics").body; };
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sample(metrics(),
                      "pat_authority_feed_listen_probes_total{result="
                      "\"unsent\"}")
                   .value_or(0) >= 1;
      },
      kBound))
      << authority->Logs();
  EXPECT_TRUE(WaitFor([&] { return HttpGet(admin, "/readyz").status == 200; },
                      kBound))
      << HttpGet(admin, "/readyz").Describe();
  EXPECT_EQ(Sample(metrics(), "pat_authority_feed_listen_receiving"), 0);
  EXPECT_NE(authority->Logs().find("feed LISTEN self-check: NOTIFY refused"),
            std::string::npos);

  auto channel =
      grpc::CreateChannel(authority->target(), grpc::InsecureChannelCredentials());
  auto directory = v1::DirectoryService::NewStub(channel);
  auto tokens = v1::TokenService::NewStub(channel);
  {
    v1::UpsertPlanRequest req;
    req.mutable_plan()->set_id(kPlanA);
    req.mutable_plan()->set_name("full queue");
    req.mutable_plan()->set_tier(v1::PLAN_TIER_ENTERPRISE);
    req.mutable_plan()->add_admin_user_ids(kAlice);
    v1::Plan plan;
    ASSERT_TRUE(directory->UpsertPlan(Ctx("").get(), req, &plan).ok());
  }
  GrantWatcher watcher(authority->target());
  ASSERT_TRUE(watcher.WaitSynced(kBound));
  pqxx::connection conn((*db)->url());
  for (int i = 0; i < 5; ++i) {
    const std::string id =
        CreateTokenVia(*tokens, kAlice, MakeCreateRequest(kPlanA)).token().id();
    ASSERT_FALSE(::testing::Test::HasFailure());
    v1::Token revoked = RevokeTokenVia(*tokens, kAlice, kPlanA, id);
    ASSERT_FALSE(::testing::Test::HasFailure());
    EXPECT_TRUE(revoked.has_revoke_time());
    pqxx::nontransaction nt(conn);
    EXPECT_TRUE(nt.exec_params1("SELECT revoke_time IS NOT NULL FROM tokens "
                                "WHERE id = $1",
                                id)[0]
                    .as<bool>());
    EXPECT_TRUE(WaitFor([&] { return watcher.Revoked(id); }, kBound))
        << "revoke " << id << " not delivered";
  }
  // Delivered by polling: no NOTIFY ever woke the listener.
  const std::string m = metrics();
  EXPECT_EQ(Sample(m, "pat_authority_feed_wakeups_total{cause=\"notify\"}")
                .value_or(0),
            0);
  EXPECT_GT(
      Sample(m, "pat_authority_feed_wakeups_total{cause=\"poll\"}").value_or(0),
      0);
}

}  // namespace
}  // namespace pat::testing
