#include "sidecar/grpc_authority_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "common/grpc_status.h"
#include "common/secret.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/pat.pb.h"
#include "proto/convert/proto_convert.h"
#include "sidecar/grant.h"
#include "sidecar/metrics.h"

namespace pat::sidecar {
namespace {

// --- Proto -> domain (total, fail closed) ---
// The shared conversions (proto/convert/proto_convert.h); a value the
// sidecar cannot read becomes kUnspecified, which no rule allows, and an
// unreadable time the caller's fail-closed fallback.

TokenKind KindFromProto(int value) {
  return TokenKindFromProtoValue(value).value_or(TokenKind::kUnspecified);
}

TokenStatus StatusFromProto(int value) {
  return TokenStatusFromProtoValue(value).value_or(TokenStatus::kUnspecified);
}

ResourceKind ResourceKindFromProtoOr(int value) {
  return ResourceKindFromProtoValue(value).value_or(ResourceKind::kUnspecified);
}

PlanTier TierFromProto(int value) {
  return PlanTierFromProtoValue(value).value_or(PlanTier::kUnspecified);
}

absl::Time TimeFromProtoOr(const google::protobuf::Timestamp& ts,
                           absl::Time fallback) {
  return TimeFromProtoValue(ts).value_or(fallback);
}

Grant GrantFromProto(const v1::Grant& proto) {
  Grant grant;
  grant.token_id = proto.token_id();
  grant.plan_id = proto.plan_id();
  grant.kind = KindFromProto(proto.kind());
  grant.status = StatusFromProto(proto.status());
  grant.all_resources = proto.all_resources();
  std::vector<std::string> scopes(proto.scopes().begin(), proto.scopes().end());
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  grant.scopes =
      std::make_shared<const std::vector<std::string>>(std::move(scopes));
  grant.resources.reserve(proto.resources_size());
  for (const v1::TokenResource& r : proto.resources()) {
    TokenResource resource;
    resource.kind = ResourceKindFromProtoOr(r.kind());
    resource.id = r.id();
    // The canonical link is not needed for enforcement: not kept.
    grant.resources.push_back(std::move(resource));
  }
  grant.expire_time =
      proto.has_expire_time()
          ? TimeFromProtoOr(proto.expire_time(), absl::InfinitePast())
          : absl::InfinitePast();
  // A revoke time that cannot be read still means "revoked" when the status
  // says so; the time itself is informational.
  grant.revoke_time =
      proto.has_revoke_time()
          ? TimeFromProtoOr(proto.revoke_time(), absl::InfinitePast())
          : absl::InfiniteFuture();
  return grant;
}

Resource ResourceFromProto(const v1::Resource& proto) {
  Resource resource;
  resource.plan_id = proto.plan_id();
  resource.kind = ResourceKindFromProtoOr(proto.kind());
  resource.id = proto.id();
  resource.parent_kind = ResourceKindFromProtoOr(proto.parent_kind());
  resource.parent_id = proto.parent_id();
  // The display name is not needed: not kept.
  return resource;
}

Plan PlanFromProto(const v1::Plan& proto) {
  Plan plan;
  plan.id = proto.id();
  plan.name = proto.name();
  plan.tier = TierFromProto(proto.tier());
  // Admin ids are not needed by the sidecar: not kept.
  return plan;
}

GrantUpdate GrantUpdateFromProto(const v1::GrantEvent& event) {
  GrantUpdate update;
  update.grant = GrantFromProto(event.grant());
  update.secrets.reserve(event.secrets_size());
  for (const v1::SecretState& s : event.secrets()) {
    absl::StatusOr<Digest> digest = DigestFromBytes(s.secret_sha256());
    if (!digest.ok()) continue;  // not a digest: cannot match any secret
    SecretState state;
    state.digest = *digest;
    state.expire_time =
        s.has_expire_time()
            ? TimeFromProtoOr(s.expire_time(), absl::InfinitePast())
            : update.grant.expire_time;
    update.secrets.push_back(state);
  }
  return update;
}

WatchMessage WatchMessageFromProto(const v1::WatchGrantsResponse& proto) {
  WatchMessage message;
  message.snapshot = proto.snapshot();
  switch (proto.message_case()) {
    case v1::WatchGrantsResponse::kSyncedRevision:
      message.type = WatchMessage::Type::kSynced;
      message.revision = proto.synced_revision();
      return message;
    case v1::WatchGrantsResponse::kHeartbeatRevision:
      message.type = WatchMessage::Type::kHeartbeat;
      message.revision = proto.heartbeat_revision();
      return message;
    case v1::WatchGrantsResponse::kEvent:
      break;
    case v1::WatchGrantsResponse::MESSAGE_NOT_SET:
      message.type = WatchMessage::Type::kUnknown;
      return message;
  }
  const v1::GrantEvent& event = proto.event();
  message.type = WatchMessage::Type::kEvent;
  message.revision = event.revision();
  switch (event.change_case()) {
    case v1::GrantEvent::kGrant:
      message.change = WatchMessage::Change::kGrant;
      message.grant = GrantUpdateFromProto(event);
      break;
    case v1::GrantEvent::kResourceUpserted:
      message.change = WatchMessage::Change::kResourceUpserted;
      message.resource = ResourceFromProto(event.resource_upserted());
      break;
    case v1::GrantEvent::kResourceDeleted:
      message.change = WatchMessage::Change::kResourceDeleted;
      message.resource = ResourceFromProto(event.resource_deleted());
      break;
    case v1::GrantEvent::kPlanUpserted:
      message.change = WatchMessage::Change::kPlanUpserted;
      message.plan = PlanFromProto(event.plan_upserted());
      break;
    case v1::GrantEvent::CHANGE_NOT_SET:
      message.change = WatchMessage::Change::kNone;
      break;
  }
  return message;
}

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

}  // namespace

// --- Implementation ---

namespace {

// What a call object tells the client when it is destroyed.
class InFlightCounter {
 public:
  virtual void End() = 0;

 protected:
  ~InFlightCounter() = default;
};

// Ends a call's in-flight registration when the call object is destroyed.
// It is the first member of UnaryCall, so it runs after ~ClientContext: the
// client's Shutdown() (which waits for in_flight == 0) returns only once no
// ClientContext of ours holds the channel. The channel's last reference is
// then dropped by ~Impl on the destroying thread, never by a gRPC callback
// thread: a grpc::Channel destroyed there tears down grpc++'s callback
// completion queue from one of its own threads (the self-join fails and the
// queue is freed twice: ASan double-free in grpc_cq_internal_unref, 8 of 30
// miss_flood_test runs under load; grpc/grpc#32584).
struct InFlightRelease {
  InFlightCounter* impl = nullptr;
  InFlightRelease() = default;
  InFlightRelease(const InFlightRelease&) = delete;
  InFlightRelease& operator=(const InFlightRelease&) = delete;
  ~InFlightRelease() {
    if (impl != nullptr) impl->End();
  }
};

}  // namespace

struct GrpcAuthorityClient::Impl final : InFlightCounter {
  struct MethodMetrics {
    Counter* calls = nullptr;
    Counter* errors = nullptr;
  };

  Impl(std::shared_ptr<grpc::Channel> channel, const AuthorityClientConfig& c,
       MetricsRegistry& metrics)
      : channel(std::move(channel)),
        stub(v1::IntrospectionService::NewStub(this->channel)),
        config(c),
        validate(Metrics(metrics, "ValidateToken")),
        resolve(Metrics(metrics, "ResolveResource")),
        report(Metrics(metrics, "ReportUsage")),
        watch(Metrics(metrics, "WatchGrants")),
        in_flight_gauge(metrics.GetGauge(
            "pat_sidecar_authority_calls_in_flight",
            "Asynchronous ValidateToken and ResolveResource calls awaiting "
            "the authority.")) {}

  static MethodMetrics Metrics(MetricsRegistry& metrics,
                               absl::string_view method) {
    const Labels labels = {{"method", std::string(method)}};
    MethodMetrics m;
    m.calls =
        &metrics.GetCounter("pat_sidecar_authority_rpcs_total",
                            "RPCs made to the authority, by method.", labels);
    m.errors = &metrics.GetCounter(
        "pat_sidecar_authority_rpc_errors_total",
        "RPCs to the authority that failed (not answered), by method.", labels);
    return m;
  }

  // Registers an asynchronous call; false once shutting down.
  bool Begin(std::shared_ptr<grpc::ClientContext> context) {
    absl::MutexLock lock(&mu);
    if (shutting_down) return false;
    grpc::ClientContext* key = context.get();
    contexts.emplace(key, std::move(context));
    in_flight_gauge.Set(static_cast<int64_t>(++in_flight));
    return true;
  }
  // The call's context is about to be destroyed.
  void Untrack(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu);
    contexts.erase(context);
  }
  // The call object (context included) is being destroyed
  // (InFlightRelease).
  void End() override {
    absl::MutexLock lock(&mu);
    in_flight_gauge.Set(static_cast<int64_t>(--in_flight));
  }
  // Cancels every call in flight and waits until their call objects (and
  // so their ClientContexts' channel references) are gone.
  // TryCancel runs without the lock (the shared pointers keep the contexts
  // alive), so a callback that runs inline cannot deadlock.
  void Shutdown() {
    std::vector<std::shared_ptr<grpc::ClientContext>> cancel;
    {
      absl::MutexLock lock(&mu);
      shutting_down = true;
      for (auto& [key, context] : contexts) cancel.push_back(context);
    }
    for (auto& context : cancel) context->TryCancel();
    cancel.clear();
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](size_t* n) { return *n == 0; }, &in_flight));
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::IntrospectionService::Stub> stub;
  const AuthorityClientConfig config;
  MethodMetrics validate;
  MethodMetrics resolve;
  MethodMetrics report;
  MethodMetrics watch;
  Gauge& in_flight_gauge;

  absl::Mutex mu;
  bool shutting_down ABSL_GUARDED_BY(mu) = false;
  size_t in_flight ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<grpc::ClientContext*,
                      std::shared_ptr<grpc::ClientContext>>
      contexts ABSL_GUARDED_BY(mu);
};

namespace {

// One asynchronous unary call: what gRPC needs to outlive the call, and the
// caller's callback. Shared by gRPC's callback and, while in flight, the
// client's registry (for cancellation at shutdown).
template <typename Request, typename Response, typename Callback>
struct UnaryCall {
  InFlightRelease release;  // first: destroyed last
  grpc::ClientContext context;
  Request request;
  Response response;
  Callback done;
};

absl::StatusOr<ValidateResult> ValidateAnswer(
    const v1::ValidateTokenResponse& response) {
  ValidateResult result;
  result.found = response.found();
  result.revision = response.revision();
  if (!result.found) return result;
  result.grant = GrantFromProto(response.grant());
  result.secret_expire_time =
      response.has_secret_expire_time()
          ? TimeFromProtoOr(response.secret_expire_time(), absl::InfinitePast())
          : result.grant.expire_time;
  return result;
}

absl::StatusOr<ResolvedChain> ResolveAnswer(
    const v1::ResolveResourceResponse& response) {
  if (response.plan_id().empty() || response.chain_size() == 0) {
    return absl::NotFoundError("resource not in the directory");
  }
  ResolvedChain chain;
  chain.plan_id = response.plan_id();
  chain.chain.reserve(response.chain_size());
  for (const v1::Resource& r : response.chain()) {
    chain.chain.push_back(ResourceFromProto(r));
  }
  return chain;
}

class GrpcWatchStream final : public WatchStream {
 public:
  GrpcWatchStream(v1::IntrospectionService::Stub& stub, int64_t since,
                  bool directory_only, Counter& errors)
      : errors_(errors) {
    v1::WatchGrantsRequest request;
    request.set_since_revision(since);
    request.set_directory_only(directory_only);
    reader_ = stub.WatchGrants(&context_, request);
  }

  bool Next(WatchMessage* message) override {
    if (!reader_->Read(&response_)) return false;
    *message = WatchMessageFromProto(response_);
    return true;
  }

  void Cancel() override {
    cancelled_.store(true, std::memory_order_relaxed);
    context_.TryCancel();
  }

  absl::Status Finish() override {
    const grpc::Status status = reader_->Finish();
    if (!status.ok() && !cancelled_.load(std::memory_order_relaxed)) {
      errors_.Inc();
    }
    return FromGrpcStatus(status);
  }

 private:
  Counter& errors_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchGrantsResponse>> reader_;
  v1::WatchGrantsResponse response_;
  std::atomic<bool> cancelled_{false};
};

absl::Status ShuttingDown() {
  return absl::UnavailableError("the authority client is shutting down");
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuthorityClient>> GrpcAuthorityClient::Create(
    const AuthorityClientConfig& config, MetricsRegistry& metrics) {
  if (config.target.empty()) {
    return absl::InvalidArgumentError("--authority: required");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (config.insecure) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    if (config.tls_cert_pem.empty() != config.tls_key_pem.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert and --tls_key: give both or neither");
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = config.tls_ca_pem;
    ssl.pem_cert_chain = config.tls_cert_pem;
    ssl.pem_private_key = config.tls_key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  // Reconnect quickly once the authority is back (gRPC's default backoff
  // grows to two minutes, during which every RPC fails at once), and give
  // up on a connection attempt (TCP + TLS handshake) after 2 s rather than
  // 20 s, so an address that accepts nothing (e.g. a draining replica) does
  // not hold the channel.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(config.target, credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError("--authority: cannot create a channel");
  }
  return std::unique_ptr<AuthorityClient>(new GrpcAuthorityClient(
      std::make_unique<Impl>(std::move(channel), config, metrics)));
}

GrpcAuthorityClient::GrpcAuthorityClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

GrpcAuthorityClient::~GrpcAuthorityClient() { impl_->Shutdown(); }

void GrpcAuthorityClient::ValidateToken(const Digest& digest,
                                        ValidateCallback done) {
  using Call = UnaryCall<v1::ValidateTokenRequest, v1::ValidateTokenResponse,
                         ValidateCallback>;
  auto call = std::make_shared<Call>();
  call->request.set_secret_sha256(
      std::string(reinterpret_cast<const char*>(digest.data()), digest.size()));
  call->context.set_deadline(DeadlineAfter(impl_->config.rpc_timeout));
  call->done = std::move(done);
  if (!impl_->Begin(
          std::shared_ptr<grpc::ClientContext>(call, &call->context))) {
    std::move(call->done)(ShuttingDown());
    return;
  }
  call->release.impl = impl_.get();
  impl_->validate.calls->Inc();
  Impl* impl = impl_.get();
  impl->stub->async()->ValidateToken(
      &call->context, &call->request, &call->response,
      [impl, call](grpc::Status status) {
        absl::StatusOr<ValidateResult> result =
            status.ok()
                ? ValidateAnswer(call->response)
                : absl::StatusOr<ValidateResult>(FromGrpcStatus(status));
        if (!status.ok()) impl->validate.errors->Inc();
        ValidateCallback user = std::move(call->done);
        impl->Untrack(&call->context);
        std::move(user)(std::move(result));
      });
}

void GrpcAuthorityClient::ResolveResource(ResourceKind kind,
                                          absl::string_view id,
                                          ResolveCallback done) {
  using Call = UnaryCall<v1::ResolveResourceRequest,
                         v1::ResolveResourceResponse, ResolveCallback>;
  auto call = std::make_shared<Call>();
  call->request.set_kind(ResourceKindToProto(kind));
  call->request.set_id(std::string(id));
  call->context.set_deadline(DeadlineAfter(impl_->config.rpc_timeout));
  call->done = std::move(done);
  if (!impl_->Begin(
          std::shared_ptr<grpc::ClientContext>(call, &call->context))) {
    std::move(call->done)(ShuttingDown());
    return;
  }
  call->release.impl = impl_.get();
  impl_->resolve.calls->Inc();
  Impl* impl = impl_.get();
  impl->stub->async()->ResolveResource(
      &call->context, &call->request, &call->response,
      [impl, call](grpc::Status status) {
        absl::StatusOr<ResolvedChain> result;
        if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          result = absl::NotFoundError("resource not in the directory");
        } else if (!status.ok()) {
          impl->resolve.errors->Inc();
          result = FromGrpcStatus(status);
        } else {
          result = ResolveAnswer(call->response);
        }
        ResolveCallback user = std::move(call->done);
        impl->Untrack(&call->context);
        std::move(user)(std::move(result));
      });
}

absl::Status GrpcAuthorityClient::ReportUsage(
    absl::Span<const UsageRecord> records) {
  return ReportUsageWithCounts(records, {});
}

absl::Status GrpcAuthorityClient::ReportUsageWithCounts(
    absl::Span<const UsageRecord> records,
    absl::Span<const UsageCountRecord> counts) {
  v1::ReportUsageRequest request;
  request.mutable_records()->Reserve(static_cast<int>(records.size()));
  for (const UsageRecord& record : records) {
    v1::UsageRecord* out = request.add_records();
    out->set_token_id(record.token_id);
    TimeToProto(record.last_used_time, out->mutable_last_used_time());
    out->set_client_ip(record.client_ip);
  }
  request.mutable_counts()->Reserve(static_cast<int>(counts.size()));
  for (const UsageCountRecord& c : counts) {
    v1::UsageCount* out = request.add_counts();
    out->set_token_id(c.token_id);
    out->set_endpoint(c.endpoint);
    for (const std::string& s : c.satisfying_scopes) {
      out->add_satisfying_scopes(s);
    }
    out->set_resource_need(static_cast<v1::UsageResourceNeed>(c.need));
    for (const UsageResourceChain& r : c.resources) {
      v1::ResourceChain* chain = out->add_resources();
      chain->mutable_resource()->set_kind(ResourceKindToProto(r.kind));
      chain->mutable_resource()->set_id(r.id);
      for (const auto& [kind, id] : r.ancestors) {
        v1::TokenResource* a = chain->add_ancestors();
        a->set_kind(ResourceKindToProto(kind));
        a->set_id(id);
      }
    }
    out->set_count(c.count);
  }
  v1::ReportUsageResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(impl_->config.report_timeout));
  impl_->report.calls->Inc();
  const grpc::Status status =
      impl_->stub->ReportUsage(&context, request, &response);
  if (!status.ok()) {
    impl_->report.errors->Inc();
    return FromGrpcStatus(status);
  }
  return absl::OkStatus();
}

std::unique_ptr<WatchStream> GrpcAuthorityClient::Watch(int64_t since_revision,
                                                        bool directory_only) {
  impl_->watch.calls->Inc();
  return std::make_unique<GrpcWatchStream>(
      *impl_->stub, since_revision, directory_only, *impl_->watch.errors);
}

}  // namespace pat::sidecar
