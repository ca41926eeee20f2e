// Threat checklist #11 (LISTEN silently deaf): the real pat-authority with
// its LISTEN session behind a real PgBouncer in transaction mode (which drops
// notifications that arrive while the server connection is not linked to a
// client, i.e. always for an idle LISTENer). The self-check's probe never
// comes back: /readyz is 503 naming the self-check, the gRPC health service
// says NOT_SERVING, the metrics say deaf; revokes still reach a WatchGrants
// client by polling. PgBouncer reloaded in session mode: the replica LISTENs
// again (after reconnecting its session) and is ready and SERVING again.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "tests/support/feed_fault_support.h"
#include "tests/support/fixtures.h"
#include "tests/support/sidecar_harness.h"
#include "tests/support/test_database.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;

constexpr absl::Duration kCheckInterval = absl::Milliseconds(300);
constexpr absl::Duration kCheckTimeout = absl::Milliseconds(300);
// The feed's backup poll (FeedHubOptions::poll_interval).
constexpr absl::Duration kPollInterval = absl::Milliseconds(250);
// Generous bounds for state changes on a loaded 2-core machine.
constexpr absl::Duration kBound = absl::Seconds(20);

std::unique_ptr<grpc::ClientContext> Ctx(absl::string_view actor) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  if (!actor.empty()) context->AddMetadata("x-pat-actor", std::string(actor));
  return context;
}

// grpc.health.v1.Health/Check for service ""; 1 SERVING, 2 NOT_SERVING,
// -1 on an RPC error (Debian ships no health .proto: raw bytes).
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status = 1}: tag 0x08, varint.
  if (bytes.size() == 2 && bytes[0] == 0x08) return bytes[1];
  return bytes.empty() ? 0 : -1;
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

class FeedListenCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(BinaryFromEnv("PAT_AUTHORITY_BIN").empty());
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    bouncer_ = PgBouncer::Start(UrlPort(db_->url()), "transaction");
    ASSERT_NE(bouncer_, nullptr);
    const std::string feed_url = bouncer_->Url(db_->url());
    ASSERT_FALSE(feed_url.empty()) << db_->url();
    authority_ = ServiceProcess::Start(
        "pat-authority", BinaryFromEnv("PAT_AUTHORITY_BIN"),
        {"--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0", "--insecure",
         "--auto_migrate", absl::StrCat("--database_url=", db_->url()),
         absl::StrCat("--feed_database_url=", feed_url),
         absl::StrCat("--feed_listen_check_interval=",
                      absl::FormatDuration(kCheckInterval)),
         absl::StrCat("--feed_listen_check_timeout=",
                      absl::FormatDuration(kCheckTimeout))});
    ASSERT_NE(authority_, nullptr);
    channel_ = grpc::CreateChannel(authority_->target(),
                                   grpc::InsecureChannelCredentials());
  }

  HttpResponse Readyz() { return HttpGet(authority_->admin_port(), "/readyz"); }
  std::string Metrics() {
    return HttpGet(authority_->admin_port(), "/metrics").body;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgBouncer> bouncer_;
  std::unique_ptr<ServiceProcess> authority_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(FeedListenCheckTest, DeafListenerIsNotReadyPollsAndRecovers) {
  // Deaf: not ready, naming the self-check, and NOT_SERVING.
  ASSERT_TRUE(WaitFor(
      [&] {
        HttpResponse r = Readyz();
        return r.status == 503 &&
               absl::StrContains(r.body, "feed LISTEN self-check: deaf");
      },
      kBound))
      << Readyz().Describe() << "\n"
      << authority_->Logs();
  EXPECT_TRUE(WaitFor([&] { return HealthStatus(channel_) == 2; }, kBound));
  const std::string deaf_metrics = Metrics();
  EXPECT_EQ(Sample(deaf_metrics, "pat_authority_feed_listen_receiving"), 0);
  EXPECT_GE(Sample(deaf_metrics,
                   "pat_authority_feed_listen_probes_total{result=\"missed\"}")
                .value_or(0),
            1);
  EXPECT_EQ(Sample(deaf_metrics, "pat_authority_ready"), 0);
  EXPECT_NE(authority_->Logs().find(
                "feed LISTEN self-check: probe not received; polling"),
            std::string::npos);

  // The replica still serves the feed, by polling.
  auto directory = v1::DirectoryService::NewStub(channel_);
  auto tokens = v1::TokenService::NewStub(channel_);
  {
    v1::UpsertPlanRequest req;
    req.mutable_plan()->set_id(kPlanA);
    req.mutable_plan()->set_name("deaf");
    req.mutable_plan()->set_tier(v1::PLAN_TIER_ENTERPRISE);
    req.mutable_plan()->add_admin_user_ids(kAlice);
    v1::Plan plan;
    ASSERT_TRUE(directory->UpsertPlan(Ctx("").get(), req, &plan).ok());
  }
  GrantWatcher watcher(authority_->target());
  ASSERT_TRUE(watcher.WaitSynced(kBound));
  constexpr int kRevokes = 5;
  for (int i = 0; i < kRevokes; ++i) {
    v1::CreateTokenResponse created =
        CreateTokenVia(*tokens, kAlice, MakeCreateRequest(kPlanA));
    ASSERT_FALSE(::testing::Test::HasFailure());
    const std::string id = created.token().id();
    RevokeTokenVia(*tokens, kAlice, kPlanA, id);
    ASSERT_FALSE(::testing::Test::HasFailure());
    // Bounded by the poll interval plus a loaded machine's scheduling.
    EXPECT_TRUE(WaitFor([&] { return watcher.Revoked(id); },
                        kPollInterval + absl::Seconds(5)))
        << "revoke " << id << " not delivered while deaf";
  }
  EXPECT_GT(Sample(Metrics(),
                   "pat_authority_feed_wakeups_total{cause=\"poll\"}")
                .value_or(0),
            0);
  // Still deaf throughout (the revokes came by polling).
  EXPECT_EQ(Readyz().status, 503);

  // Healed: session pooling keeps a server connection per client, so the
  // reconnected LISTEN session receives.
  ASSERT_TRUE(bouncer_->Reload("session"));
  ASSERT_TRUE(WaitFor([&] { return Readyz().status == 200; }, kBound))
      << Readyz().Describe() << "\n"
      << authority_->Logs();
  EXPECT_TRUE(WaitFor([&] { return HealthStatus(channel_) == 1; }, kBound));
  const std::string healed = Metrics();
  EXPECT_EQ(Sample(healed, "pat_authority_feed_listen_receiving"), 1);
  EXPECT_GE(Sample(healed,
                   "pat_authority_feed_listen_probes_total{result=\"received\"}")
                .value_or(0),
            1);
  EXPECT_NE(authority_->Logs().find(
                "feed LISTEN self-check: notifications arrive"),
            std::string::npos);
}

// Without a pooler in the way the replica becomes ready: the self-check
// passes at start and is SERVING (the control for the test above).
TEST_F(FeedListenCheckTest, DirectListenerIsReady) {
  ASSERT_TRUE(bouncer_->Reload("session"));
  // The first session was opened in transaction mode: the self-check must
  // notice (or have noticed) and reconnect; either way it ends ready.
  ASSERT_TRUE(WaitFor([&] { return Readyz().status == 200; }, kBound))
      << Readyz().Describe();
  EXPECT_TRUE(WaitFor([&] { return HealthStatus(channel_) == 1; }, kBound));
  EXPECT_EQ(Sample(Metrics(), "pat_authority_feed_listen_receiving"), 1);
}

}  // namespace
}  // namespace pat::testing
