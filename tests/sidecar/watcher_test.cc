// Watcher (SPEC §6) over real gRPC against a scripted in-process authority:
// snapshot and sync, live events, gaps, resume after a disconnect, lost
// trailing events caught by heartbeats, directory events.

#include "sidecar/watcher.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sidecar/fake_authority.h"

namespace pat::sidecar {
namespace {

using ::pat::sidecar::testing::GrantSpec;
using ::pat::sidecar::testing::Harness;
using ::pat::sidecar::testing::kStart;
using ::pat::sidecar::testing::MakeGrant;
using ::pat::sidecar::testing::MakeResource;
using ::pat::sidecar::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kFarFuture = kStart + absl::Hours(24 * 90);

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "KEY1"));
  }

  std::string NewSecret() { return GenerateSecret(TokenKind::kRestApi); }

  int64_t Put(const std::string& token_id, const std::string& secret,
              v1::TokenStatus status = v1::TOKEN_STATUS_ACTIVE,
              bool deliver = true) {
    return h.fake.PutGrant(MakeGrant(GrantSpec().Id(token_id).Status(status)),
                           {{secret, kFarFuture}}, deliver);
  }

  std::string Reason(const std::string& secret) {
    return std::string(policy::ReasonCode(h.Bearer(secret).reason));
  }

  Harness h;
};

TEST_F(WatcherTest, SnapshotThenSynced) {
  const std::string a = NewSecret();
  const std::string b = NewSecret();
  Put("tok_a", a);
  const int64_t rev = Put("tok_b", b, v1::TOKEN_STATUS_REVOKED);
  h.StartWatcher();
  ASSERT_TRUE(WaitFor([&] { return h.watcher->synced(); }));
  EXPECT_EQ(h.watcher->revision(), rev);
  EXPECT_EQ(h.grants->size(), 2u);
  EXPECT_EQ(h.directory->size(), 1u);
  EXPECT_TRUE(h.authorizer->Ready());
  EXPECT_EQ(Reason(a), "allowed");
  EXPECT_EQ(Reason(b), "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 0);
  EXPECT_THAT(h.fake.watch_requests(), ElementsAre(0));
  const std::string text = h.metrics->RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("pat_sidecar_watch_connected 1"));
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("pat_sidecar_watch_revision ", rev)));
}

TEST_F(WatcherTest, LiveEventsApplyInOrder) {
  h.StartSynced();
  const std::string a = NewSecret();
  Put("tok_a", a);
  const int64_t rev = Put("tok_a", a, v1::TOKEN_STATUS_REVOKED);
  ASSERT_TRUE(h.WaitRevision(rev));
  EXPECT_EQ(Reason(a), "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 0);
  EXPECT_THAT(h.fake.watch_requests(), ElementsAre(0));
}

TEST_F(WatcherTest, GapTriggersFreshSnapshot) {
  h.StartSynced();
  const std::string a = NewSecret();
  const std::string b = NewSecret();
  const std::string c = NewSecret();
  const int64_t base = h.watcher->revision();
  Put("tok_a", a);  // base+1
  Put("tok_b", b);  // base+2
  ASSERT_TRUE(h.WaitRevision(base + 2));
  EXPECT_EQ(Reason(a), "allowed");
  // base+3 (the revocation) is lost on the open stream; base+4 arrives.
  Put("tok_a", a, v1::TOKEN_STATUS_REVOKED, /*deliver=*/false);
  const int64_t last = Put("tok_c", c);
  // The gap makes the watcher resubscribe from scratch; the snapshot
  // carries the truth, revocation included.
  ASSERT_TRUE(WaitFor([&] {
    return h.watcher->resyncs() == 1 && h.watcher->revision() == last;
  }));
  EXPECT_THAT(h.fake.watch_requests(), ElementsAre(0, 0));
  EXPECT_EQ(Reason(a), "token_revoked");
  EXPECT_EQ(Reason(b), "allowed");
  EXPECT_EQ(Reason(c), "allowed");
  EXPECT_EQ(h.fake.validate_calls(), 0);
  EXPECT_THAT(h.metrics->RenderPrometheus(),
              HasSubstr("pat_sidecar_watch_resyncs_total 1"));
}

TEST_F(WatcherTest, ResumesFromLastAppliedRevisionAfterDisconnect) {
  h.StartSynced();
  const std::string a = NewSecret();
  Put("tok_a", a);
  const int64_t applied = Put("tok_x", NewSecret());
  ASSERT_TRUE(h.WaitRevision(applied));
  h.fake.DisconnectWatchers();
  ASSERT_TRUE(WaitFor([&] { return h.fake.watch_requests().size() == 2; }));
  EXPECT_THAT(h.fake.watch_requests(), ElementsAre(0, applied));
  // Events after the resume arrive on the new stream.
  const int64_t rev = Put("tok_a", a, v1::TOKEN_STATUS_REVOKED);
  ASSERT_TRUE(h.WaitRevision(rev));
  EXPECT_EQ(Reason(a), "token_revoked");
  EXPECT_EQ(h.watcher->resyncs(), 0);
}

TEST_F(WatcherTest, EventsCommittedWhileDisconnectedAreReplayed) {
  h.StartSynced();
  const std::string a = NewSecret();
  const int64_t first = Put("tok_a", a);
  ASSERT_TRUE(h.WaitRevision(first));
  // Lost on the open stream, which then drops: the resume replays it.
  const int64_t lost = Put("tok_a", a, v1::TOKEN_STATUS_REVOKED, false);
  h.fake.DisconnectWatchers();
  ASSERT_TRUE(h.WaitRevision(lost));
  EXPECT_THAT(h.fake.watch_requests(), ElementsAre(0, first));
  EXPECT_EQ(Reason(a), "token_revoked");
}

TEST_F(WatcherTest, HeartbeatRevealsLostTrailingEvent) {
  h.StartSynced();
  const std::string a = NewSecret();
  const int64_t first = Put("tok_a", a);
  ASSERT_TRUE(h.WaitRevision(first));
  // The last event is lost and nothing follows it: only heartbeats tell.
  const int64_t lost = Put("tok_a", a, v1::TOKEN_STATUS_REVOKED, false);
  h.fake.Heartbeat();  // tolerated once: events may be on their way
  ASSERT_TRUE(WaitFor([&] {
    return h.metrics->RenderPrometheus().find(
               "pat_sidecar_watch_revision_lag 1") != std::string::npos;
  }));
  h.fake.Heartbeat();  // still behind: lost
  ASSERT_TRUE(WaitFor([&] {
    return h.watcher->resyncs() == 1 && h.watcher->revision() == lost;
  }));
  EXPECT_THAT(h.fake.watch_requests(), ElementsAre(0, 0));
  EXPECT_EQ(Reason(a), "token_revoked");
}

TEST_F(WatcherTest, SnapshotDropsGrantsTheAuthorityNoLongerHas) {
  // A grant learned by ValidateToken that the next snapshot does not name
  // is dropped when the snapshot completes.
  h.StartSynced();
  const std::string only = NewSecret();
  h.fake.SetValidateAnswer(only, MakeGrant(GrantSpec().Id("tok_v")),
                           kFarFuture);
  EXPECT_EQ(Reason(only), "allowed");
  EXPECT_EQ(h.grants->size(), 1u);
  // Force a resync with a gap.
  const std::string a = NewSecret();
  Put("tok_a", a, v1::TOKEN_STATUS_ACTIVE, false);
  const int64_t last = Put("tok_b", NewSecret());
  ASSERT_TRUE(WaitFor([&] {
    return h.watcher->resyncs() == 1 && h.watcher->revision() == last;
  }));
  // tok_v was learned in the old generation and is not in the snapshot.
  EXPECT_EQ(h.grants->size(), 2u);
  EXPECT_EQ(Reason(a), "allowed");
}

TEST_F(WatcherTest, DirectoryEvents) {
  GrantSpec spec = GrantSpec().AllResources(false).Resources(
      {{v1::RESOURCE_KIND_PROJECT, "P1"}});
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  h.fake.PutGrant(MakeGrant(spec), {{secret, kFarFuture}});
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_PROJECT, "P1"));
  h.StartSynced();
  EXPECT_EQ(policy::ReasonCode(h.Bearer(secret, "/v1/files/F1").reason),
            "resource_not_allowed");
  const int calls = h.fake.resolve_calls();
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "F1",
                                  v1::RESOURCE_KIND_PROJECT, "P1"));
  const int64_t rev = h.fake.PutResource(MakeResource(
      "plan_1", v1::RESOURCE_KIND_FILE, "F2", v1::RESOURCE_KIND_PROJECT, "P1"));
  ASSERT_TRUE(h.WaitRevision(rev));
  EXPECT_EQ(policy::ReasonCode(h.Bearer(secret, "/v1/files/F1").reason),
            "allowed");
  EXPECT_EQ(policy::ReasonCode(h.Bearer(secret, "/v1/files/F2").reason),
            "allowed");
  // Moved to another plan.
  const int64_t moved =
      h.fake.PutResource(MakeResource("plan_2", v1::RESOURCE_KIND_FILE, "F2"));
  ASSERT_TRUE(h.WaitRevision(moved));
  EXPECT_EQ(policy::ReasonCode(h.Bearer(secret, "/v1/files/F2").reason),
            "resource_not_allowed");
  const int64_t deleted = h.fake.DeleteResource(v1::RESOURCE_KIND_FILE, "F1");
  ASSERT_TRUE(h.WaitRevision(deleted));
  EXPECT_EQ(h.directory->size(), 3u);  // KEY1, P1, F2 (F1 deleted)
  EXPECT_EQ(h.fake.resolve_calls(), calls);
  EXPECT_EQ(policy::ReasonCode(h.Bearer(secret, "/v1/files/F1").reason),
            "resource_not_allowed");
}

TEST_F(WatcherTest, RetriesWithBackoffWhileTheAuthorityIsDown) {
  // The authority is unreachable at first: the watcher keeps retrying with
  // backoff and the sidecar is not ready.
  Harness::Options options;
  Harness down(options);
  down.StopServer();
  down.StartWatcher();
  ASSERT_TRUE(WaitFor([&] { return down.watcher->sessions() >= 3; }));
  EXPECT_FALSE(down.watcher->synced());
  EXPECT_FALSE(down.authorizer->Ready());
  EXPECT_GE(down.CounterValue("pat_sidecar_watch_reconnects_total"), 2u);
}

TEST_F(WatcherTest, StopIsPromptWhileStreaming) {
  h.StartSynced();
  EXPECT_TRUE(h.watcher->connected());
  h.watcher->Stop();
  EXPECT_FALSE(h.watcher->connected());
  h.watcher->Stop();  // idempotent
}

}  // namespace
}  // namespace pat::sidecar
