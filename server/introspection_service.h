#ifndef PAT_SERVER_INTROSPECTION_SERVICE_H_
#define PAT_SERVER_INTROSPECTION_SERVICE_H_

#include <cstdint>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "server/authority_metrics.h"
#include "server/blocking_workers.h"
#include "server/caller_auth.h"
#include "server/grant_feed.h"
#include "server/snapshot_share.h"
#include "server/token_introspection.h"
#include "server/usage_rpc.h"
#include "server/validate_batcher.h"
#include "server/watch_fanout.h"

namespace pat {

struct IntrospectionOptions {
  // A watcher that has been sent nothing for this long gets a
  // heartbeat_revision (only while the feed listener is live).
  absl::Duration heartbeat_interval = absl::Seconds(1);
  // Optional (must outlive the service): watcher count, events sent,
  // snapshots.
  AuthorityMetrics* metrics = nullptr;
  // Optional (must outlive the service): stores ReportUsage's counts.
  usage::UsageService* usage = nullptr;
  // Where ValidateToken calls that must read the database are answered, in
  // batches (must outlive the service, and every RPC: stop it after the
  // server). Null: on the gRPC callback thread itself.
  ValidateBatcher* validate_batcher = nullptr;
  // WatchGrants (both required, must outlive every stream): the live
  // events, and where a stream's database work runs (feed position,
  // snapshot, catch-up reads).
  WatchFanout* fanout = nullptr;
  BlockingWorkers* watch_workers = nullptr;
  // Snapshots without grant records, for WatchGrants calls with
  // directory_only (must outlive every stream). Null: such calls are refused
  // FAILED_PRECONDITION.
  SnapshotShare* directory_snapshots = nullptr;
  // A slow consumer whose write has not completed this long after it fell
  // out of the fanout's ring is cancelled (WatchStream).
  absl::Duration evict_grace = absl::Seconds(5);
};

using IntrospectionServiceBase =
    v1::IntrospectionService::WithRawCallbackMethod_WatchGrants<
        v1::IntrospectionService::WithCallbackMethod_ValidateToken<
            v1::IntrospectionService::Service>>;

// pat.v1.IntrospectionService: what sidecars ask. Every RPC requires a
// caller with the sidecar role. Requests are answered by the
// TokenIntrospection; WatchGrants streams from `feed` and `snapshots`.
// Thread-safe; `introspection`, `auth`, `feed` and `snapshots` must outlive
// the service.
class IntrospectionServiceImpl final : public IntrospectionServiceBase {
 public:
  IntrospectionServiceImpl(TokenIntrospection& introspection,
                           const CallerAuth& auth, FeedHub& feed,
                           SnapshotShare& snapshots,
                           IntrospectionOptions options = {})
      : introspection_(introspection),
        auth_(auth),
        feed_(feed),
        snapshots_(snapshots),
        options_(options) {}

  // INVALID_ARGUMENT unless secret_sha256 is 32 bytes. found=false for a
  // digest no token has; otherwise the token's grant (with its status now,
  // so revoked and expired tokens are reported as such) and when this
  // particular secret stops working.
  //
  // On gRPC's callback API: an answer held in memory
  // (TokenIntrospection::TryValidateToken) is sent from the callback thread;
  // one that needs the database is queued on validate_batcher (with the
  // RPC's deadline; the misses waiting together are read in one statement),
  // or refused UNAVAILABLE "the authority is busy" when its queue is full.
  // The callback thread never waits.
  grpc::ServerUnaryReactor* ValidateToken(
      grpc::CallbackServerContext* context,
      const v1::ValidateTokenRequest* request,
      v1::ValidateTokenResponse* response) override;

  // The grant change feed (SPEC §6). since_revision < 0 is INVALID_ARGUMENT.
  //
  // Start: with since_revision 0, or one whose following events are no
  // longer retained (pruned), or one beyond the feed head (a database
  // restored from an older backup), a snapshot: one REPEATABLE READ read of
  // feed head R, every plan (plan_upserted), every directory resource
  // (resource_upserted, parents before children) and every token whose grant
  // still matters (grant + secrets; expired less than 7 days ago, revoked
  // ones included), each sent as an event with revision R and snapshot=true,
  // then synced_revision = R. R is at least the feed head committed when the
  // stream asked; streams asking at the same time share one read
  // (SnapshotShare) and queue for it, bounded by the stream's deadline and
  // cancellation. A client applying a snapshot replaces its state with it.
  // Otherwise (resume) no snapshot: synced_revision = since_revision at
  // once.
  //
  // Then live events with revision > the synced revision, each exactly once,
  // strictly in revision order with no gap (revisions are dense), carrying
  // the full new state of the grant, plan or resource (idempotent to apply).
  // Grant statuses are computed when the authority reads the event;
  // expire_time/revoke_time are authoritative. After heartbeat_interval
  // without a message, heartbeat_revision = the last revision sent (only
  // while the authority's feed listener is live, so a silent stream means
  // "not known to be current").
  //
  // Ends with CANCELLED when the client goes away, UNAVAILABLE when the
  // authority shuts down or is too busy to start it (reconnect with
  // since_revision = the last revision applied), RESOURCE_EXHAUSTED when
  // the stream fell behind the replica's event buffer (a slow consumer; the
  // trailing metadata pat-resume-revision holds the last revision it was
  // sent: reconnect with it to resume), ABORTED if events it still needed
  // were pruned (reconnect: it then gets a snapshot), or the storage error
  // that stopped it.
  //
  // On gRPC's callback API with raw bytes: a live event is serialized once
  // (WatchFanout) and its bytes are sent on every stream (WatchStream).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchGrants(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  // The plan of resource (kind, id) and its chain: the resource first, then
  // its parent, up to the root. INVALID_ARGUMENT for an unspecified kind or a
  // malformed id, NOT_FOUND for an unknown resource.
  grpc::Status ResolveResource(grpc::ServerContext* context,
                               const v1::ResolveResourceRequest* request,
                               v1::ResolveResourceResponse* response) override;
  // Batched last-used times and client IPs (see
  // TokenIntrospection::ReportUsage).
  grpc::Status ReportUsage(grpc::ServerContext* context,
                           const v1::ReportUsageRequest* request,
                           v1::ReportUsageResponse* response) override;

 private:
  // The answer's proto from TokenIntrospection's result.
  static absl::Status ValidateResponse(absl::StatusOr<ValidateResult> result,
                                       v1::ValidateTokenResponse& response);
  absl::Status DoResolveResource(grpc::ServerContext* context,
                                 const v1::ResolveResourceRequest& request,
                                 v1::ResolveResourceResponse& response);
  absl::Status DoReportUsage(grpc::ServerContext* context,
                             const v1::ReportUsageRequest& request);

  TokenIntrospection& introspection_;
  const CallerAuth& auth_;
  FeedHub& feed_;
  SnapshotShare& snapshots_;
  const IntrospectionOptions options_;
};

}  // namespace pat

#endif  // PAT_SERVER_INTROSPECTION_SERVICE_H_
