#include "server/introspection_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "server/db_deadline.h"
#include "server/proto_convert.h"

namespace pat {
namespace {

constexpr size_t kDigestBytes = 32;
// Events handed from the hub to one watcher per wake-up.
constexpr size_t kMaxEventsPerWake = 512;
// Rows per database read for a watcher that is behind the hub's memory.
constexpr int kFallbackReadBatch = 1000;

using Writer = grpc::ServerWriter<v1::WatchGrantsResponse>;

absl::Status ClientGone() {
  return absl::CancelledError("the watcher went away");
}

// Writes `response`; CANCELLED when the stream is gone. (No buffer hint: a
// buffered write on a synchronous stream may never complete.)
absl::Status Send(Writer& writer, const v1::WatchGrantsResponse& response) {
  if (!writer.Write(response)) return ClientGone();
  return absl::OkStatus();
}

absl::Status SendEvent(Writer& writer, const v1::GrantEvent& event,
                       AuthorityMetrics* metrics) {
  v1::WatchGrantsResponse response;
  *response.mutable_event() = event;
  PAT_RETURN_IF_ERROR(Send(writer, response));
  if (metrics != nullptr) metrics->watch_events_sent.Inc();
  return absl::OkStatus();
}

// Counts one open watch stream for as long as it lives.
class WatcherGauge {
 public:
  explicit WatcherGauge(AuthorityMetrics* metrics) : metrics_(metrics) {
    if (metrics_ != nullptr) metrics_->watchers.Add(1);
  }
  ~WatcherGauge() {
    if (metrics_ != nullptr) metrics_->watchers.Add(-1);
  }
  WatcherGauge(const WatcherGauge&) = delete;
  WatcherGauge& operator=(const WatcherGauge&) = delete;

 private:
  AuthorityMetrics* const metrics_;
};

}  // namespace

grpc::ServerUnaryReactor* IntrospectionServiceImpl::ValidateToken(
    grpc::CallbackServerContext* context,
    const v1::ValidateTokenRequest* request,
    v1::ValidateTokenResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status checked =
      auth_.Authorize(context, CallerRole::kSidecar).status();
  if (checked.ok() && request->secret_sha256().size() != kDigestBytes) {
    checked = absl::InvalidArgumentError(
        "secret_sha256: must be the 32-byte SHA-256 of the secret");
  }
  if (!checked.ok()) {
    reactor->Finish(ToGrpcStatus(checked));
    return reactor;
  }
  if (std::optional<absl::StatusOr<ValidateResult>> held =
          introspection_.TryValidateToken(request->secret_sha256())) {
    reactor->Finish(
        ToGrpcStatus(ValidateResponse(*std::move(held), *response)));
    return reactor;
  }
  // The request and response live until Finish; the deadline is copied.
  const std::optional<absl::Time> deadline = RpcDeadline(*context);
  auto read = [this, reactor, request, response, deadline] {
    const ScopedDbDeadline scoped(deadline);
    reactor->Finish(ToGrpcStatus(ValidateResponse(
        introspection_.ValidateToken(request->secret_sha256()), *response)));
  };
  if (options_.validate_workers == nullptr) {
    read();
  } else if (!options_.validate_workers->TrySubmit(read)) {
    reactor->Finish(ToGrpcStatus(
        absl::UnavailableError("the authority is busy; retry with backoff")));
  }
  return reactor;
}

absl::Status IntrospectionServiceImpl::ValidateResponse(
    absl::StatusOr<ValidateResult> result,
    v1::ValidateTokenResponse& response) {
  if (absl::IsNotFound(result.status()) || (result.ok() && !result->found)) {
    response.set_found(false);
    return absl::OkStatus();
  }
  PAT_RETURN_IF_ERROR(result.status());
  response.set_found(true);
  GrantToProto(result->token, result->status, response.mutable_grant());
  TimeToProto(result->secret_expire_time,
              response.mutable_secret_expire_time());
  return absl::OkStatus();
}

// --- WatchGrants ------------------------------------------------------------

grpc::Status IntrospectionServiceImpl::WatchGrants(
    grpc::ServerContext* context, const v1::WatchGrantsRequest* request,
    grpc::ServerWriter<v1::WatchGrantsResponse>* writer) {
  return ToGrpcStatus(DoWatchGrants(context, *request, *writer));
}

absl::StatusOr<int64_t> IntrospectionServiceImpl::SendSnapshot(
    grpc::ServerContext* context, int64_t committed_head, Writer& writer) {
  const auto start = std::chrono::steady_clock::now();
  PAT_ASSIGN_OR_RETURN(
      SnapshotPtr snapshot,
      snapshots_.Get(committed_head, absl::FromChrono(context->deadline()),
                     [context] { return context->IsCancelled(); }));
  PAT_RETURN_IF_ERROR(SendSnapshotEvents(*snapshot, writer));
  if (AuthorityMetrics* m = options_.metrics; m != nullptr) {
    m->snapshots.Inc();
    m->snapshot_duration.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  return snapshot->revision;
}

// Grant statuses are computed now, per stream, as they were before reads
// were shared (the shared snapshot holds the records, not the events).
absl::Status IntrospectionServiceImpl::SendSnapshotEvents(
    const FeedSnapshot& snapshot, Writer& writer) {
  const absl::Time now = introspection_.Now();
  v1::WatchGrantsResponse response;
  response.set_snapshot(true);
  v1::GrantEvent* event = response.mutable_event();
  for (const Plan& plan : snapshot.plans) {
    event->Clear();
    event->set_revision(snapshot.revision);
    PlanToProto(plan, event->mutable_plan_upserted());
    PAT_RETURN_IF_ERROR(Send(writer, response));
  }
  for (const Resource& resource : snapshot.resources) {
    event->Clear();
    event->set_revision(snapshot.revision);
    ResourceToProto(resource, event->mutable_resource_upserted());
    PAT_RETURN_IF_ERROR(Send(writer, response));
  }
  for (const GrantRecord& grant : snapshot.grants) {
    event->Clear();
    event->set_revision(snapshot.revision);
    GrantRecordToProto(grant, now, event);
    PAT_RETURN_IF_ERROR(Send(writer, response));
  }
  if (options_.metrics != nullptr) {
    options_.metrics->watch_events_sent.Inc(
        snapshot.plans.size() + snapshot.resources.size() +
        snapshot.grants.size());
  }
  return absl::OkStatus();
}

absl::Status IntrospectionServiceImpl::SendFromDatabase(Writer& writer,
                                                        int64_t* cursor) {
  PAT_ASSIGN_OR_RETURN(
      std::vector<FeedEventRow> rows,
      introspection_.ReadFeedEvents(*cursor, kFallbackReadBatch));
  feed_.CountFallbackRead();
  const absl::Time now = introspection_.Now();
  for (const FeedEventRow& row : rows) {
    if (row.revision != *cursor + 1) break;  // a gap: reported below
    PAT_RETURN_IF_ERROR(SendEvent(writer, GrantEventFromRow(row, now), options_.metrics));
    *cursor = row.revision;
  }
  // The hub has newer events in memory, so an empty read, or one that does
  // not continue at *cursor + 1, means pruned history.
  if (rows.empty() || *cursor != rows.back().revision) {
    // Events this watcher still needs are no longer retained. Its client
    // reconnects with its last revision and gets a snapshot.
    return absl::AbortedError(
        "the watch fell behind the retained history; reconnect with "
        "since_revision to get a snapshot");
  }
  return absl::OkStatus();
}

absl::Status IntrospectionServiceImpl::DoWatchGrants(
    grpc::ServerContext* context, const v1::WatchGrantsRequest& request,
    Writer& writer) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kSidecar).status());
  const WatcherGauge open_watch(options_.metrics);
  const int64_t since = request.since_revision();
  if (since < 0) {
    return absl::InvalidArgumentError("since_revision: must not be negative");
  }
  bool snapshot = since == 0;
  // The committed feed head, when a snapshot is needed: the snapshot sent
  // is at this revision or a later one.
  int64_t committed_head = 0;
  if (snapshot || !feed_.Covers(since)) {
    PAT_ASSIGN_OR_RETURN(FeedPosition position,
                         introspection_.GetFeedPosition(since));
    snapshot = snapshot || !position.resumable;
    committed_head = position.head;
  }
  int64_t cursor = since;
  if (snapshot) {
    PAT_ASSIGN_OR_RETURN(cursor, SendSnapshot(context, committed_head, writer));
  }
  v1::WatchGrantsResponse synced;
  synced.set_synced_revision(cursor);
  PAT_RETURN_IF_ERROR(Send(writer, synced));

  absl::Time last_sent = absl::Now();
  while (true) {
    if (context->IsCancelled()) return ClientGone();
    const absl::Time now = absl::Now();
    const absl::Time deadline =
        std::min(last_sent + options_.heartbeat_interval,
                 now + options_.cancel_check_interval);
    FeedHub::Batch batch =
        feed_.WaitForEvents(cursor, kMaxEventsPerWake, deadline);
    switch (batch.status) {
      case FeedHub::WaitStatus::kStopped:
        return absl::UnavailableError(
            "the authority is shutting down; reconnect with since_revision");
      case FeedHub::WaitStatus::kEvents:
        for (const FeedEventPtr& event : batch.events) {
          PAT_RETURN_IF_ERROR(SendEvent(writer, *event, options_.metrics));
          cursor = event->revision();
        }
        last_sent = absl::Now();
        break;
      case FeedHub::WaitStatus::kBehind:
        PAT_RETURN_IF_ERROR(SendFromDatabase(writer, &cursor));
        last_sent = absl::Now();
        break;
      case FeedHub::WaitStatus::kTimeout:
        if (batch.live &&
            absl::Now() - last_sent >= options_.heartbeat_interval) {
          v1::WatchGrantsResponse heartbeat;
          heartbeat.set_heartbeat_revision(cursor);
          PAT_RETURN_IF_ERROR(Send(writer, heartbeat));
          last_sent = absl::Now();
        }
        break;
    }
  }
}

// --- ResolveResource and ReportUsage ----------------------------------------

grpc::Status IntrospectionServiceImpl::ResolveResource(
    grpc::ServerContext* context, const v1::ResolveResourceRequest* request,
    v1::ResolveResourceResponse* response) {
  return ToGrpcStatus(DoResolveResource(context, *request, *response));
}

absl::Status IntrospectionServiceImpl::DoResolveResource(
    grpc::ServerContext* context, const v1::ResolveResourceRequest& request,
    v1::ResolveResourceResponse& response) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kSidecar).status());
  PAT_ASSIGN_OR_RETURN(ResourceKind kind,
                       ResourceKindFromProto(request.kind(), "kind"));
  PAT_ASSIGN_OR_RETURN(std::vector<Resource> chain,
                       introspection_.ResolveResource(kind, request.id()));
  response.set_plan_id(chain.front().plan_id);
  for (const Resource& resource : chain) {
    ResourceToProto(resource, response.add_chain());
  }
  return absl::OkStatus();
}

grpc::Status IntrospectionServiceImpl::ReportUsage(
    grpc::ServerContext* context, const v1::ReportUsageRequest* request,
    v1::ReportUsageResponse* response) {
  return ToGrpcStatus(DoReportUsage(context, *request));
}

absl::Status IntrospectionServiceImpl::DoReportUsage(
    grpc::ServerContext* context, const v1::ReportUsageRequest& request) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kSidecar).status());
  if (request.records_size() > kMaxUsageRecords) {
    return absl::InvalidArgumentError(absl::StrCat(
        "records: at most ", kMaxUsageRecords, " records per call"));
  }
  PAT_ASSIGN_OR_RETURN(std::vector<UsageReport> reports,
                       UsageReportsFromProto(request));
  PAT_RETURN_IF_ERROR(introspection_.ReportUsage(std::move(reports)));
  if (options_.usage == nullptr) return absl::OkStatus();
  return options_.usage->Record(request);
}

}  // namespace pat
