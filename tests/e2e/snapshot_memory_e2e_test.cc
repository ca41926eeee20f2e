// A feed snapshot's memory goes back to the system once the streams that
// took it are done (issue #11 class: memory that grows with each start-up
// of a sidecar). Snapshot reads run on whichever watch worker leads them;
// glibc kept what each worker's thread freed in that thread's arena, so
// every worker that once led a read kept a snapshot's worth of RSS
// (measured: pat-authority 23.8 -> 504 MiB after 5 reads of 150,000 grants;
// with the fix 26.3 MiB; this test's 6 reads of 60,000: 56 -> 371 MiB
// without it, 24 -> 45 MiB with it). Real pat-authority process
// (PAT_AUTHORITY_BIN) and PostgreSQL; RSS from /proc/PID/status.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

constexpr int kTokens = 60000;
constexpr int kReads = 6;

int64_t RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      int64_t kib = 0;
      std::istringstream(line.substr(6)) >> kib;
      return kib;
    }
  }
  return 0;
}

// The value of an unlabelled series in the authority's /metrics, or -1.
int64_t AuthorityMetric(int admin_port, absl::string_view name) {
  const HttpResponse r = HttpGet(admin_port, "/metrics");
  for (absl::string_view line : absl::StrSplit(r.body, '\n')) {
    if (!absl::StartsWith(line, name) || line.size() <= name.size() ||
        line[name.size()] != ' ') {
      continue;
    }
    double v = 0;
    if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) {
      return static_cast<int64_t>(v);
    }
  }
  return -1;
}

TEST(SnapshotMemoryE2eTest, SnapshotMemoryIsReturnedWhenItsStreamsAreDone) {
  std::unique_ptr<BinaryStack> stack = BinaryStack::Start();
  ASSERT_NE(stack, nullptr);
  stack->SeedWorld();
  ASSERT_FALSE(HasFatalFailure());
  {
    pqxx::connection conn(stack->db().url());
    pqxx::work txn(conn);
    txn.exec_params(
        "INSERT INTO tokens (id, plan_id, kind, name, scopes, all_resources, "
        "created_by, create_time, expire_time, lifetime_days) "
        "SELECT 'tok_bulk' || lpad(i::text, 18, '0'), $1, 'rest_api', "
        "'bulk ' || i, ARRAY['files:read'], true, 'alice', now(), "
        "now() + interval '30 days', 30 FROM generate_series(1, $2) AS i",
        std::string(kPlanA), kTokens);
    txn.commit();
  }
  // The same authority with its admin endpoint, for the watchers gauge.
  ServiceProcess& authority = stack->authority();
  ASSERT_TRUE(authority.Restart(
      {"--insecure", absl::StrCat("--listen=127.0.0.1:", authority.port()),
       "--admin_listen=127.0.0.1:0",
       absl::StrCat("--database_url=", stack->db().url()), "--auto_migrate"}));
  const int admin = authority.admin_port();
  ASSERT_GT(admin, 0);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(admin, "/readyz").status == 200; },
                      absl::Seconds(30)));
  // The sidecar reconnects and holds one stream throughout.
  ASSERT_TRUE(WaitFor(
      [&] { return AuthorityMetric(admin, "pat_authority_watchers") == 1; },
      absl::Seconds(30)));
  const int64_t reads_before =
      AuthorityMetric(admin, "pat_authority_snapshot_reads_total");

  std::vector<int64_t> rss;
  for (int i = 0; i < kReads; ++i) {
    // A channel of its own: no state carried between the reads. A stream
    // that ends before its first message is opened again (at most twice):
    // right after the restart one in ~5 runs ended CANCELLED with nothing
    // received (noted in docs/capacity.md, not investigated); what is
    // measured here is memory, not that.
    int grants = 0;
    bool synced = false;
    grpc::Status status;
    for (int attempt = 0; attempt < 3 && !synced && grants == 0; ++attempt) {
      auto stub = v1::IntrospectionService::NewStub(grpc::CreateChannel(
          authority.target(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true);
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      auto reader = stub->WatchGrants(&ctx, v1::WatchGrantsRequest());
      v1::WatchGrantsResponse m;
      while (reader->Read(&m)) {
        if (m.has_synced_revision()) {
          synced = true;
          break;
        }
        grants += m.has_event() && m.event().has_grant();
      }
      ctx.TryCancel();
      status = reader->Finish();
    }
    ASSERT_TRUE(synced) << "read " << i << " ended after " << grants
                        << " grants: " << status.error_code() << " "
                        << status.error_message();
    ASSERT_GE(grants, kTokens) << "read " << i;
    ASSERT_TRUE(WaitFor(
        [&] { return AuthorityMetric(admin, "pat_authority_watchers") == 1; },
        absl::Seconds(30)));
    rss.push_back(RssKib(authority.pid()));
  }
  // A read per stream: none was shared (each started after the last had
  // dropped its snapshot).
  EXPECT_GE(AuthorityMetric(admin, "pat_authority_snapshot_reads_total") -
                reads_before,
            kReads);
  std::string trace;
  for (int64_t r : rss) absl::StrAppend(&trace, r / 1024, " ");
  std::cerr << "pat-authority RSS MiB after each of " << kReads
            << " snapshot reads of " << kTokens << " grants: " << trace << "\n";
  // Measured at this size: without the trim each read kept ~63 MiB (56 ->
  // 371 MiB over 6 reads); with it ~4 MiB (gRPC's own per-connection
  // buffers freed after the trim; bounded by glibc's arena count).
  EXPECT_LT(rss.back() - rss.front(), (kReads - 1) * 8 * 1024)
      << "RSS grew with each snapshot read (MiB): " << trace;
}

}  // namespace
}  // namespace pat::testing
