#ifndef PAT_TESTS_SIDECAR_FAKE_AUTHORITY_H_
#define PAT_TESTS_SIDECAR_FAKE_AUTHORITY_H_

// A scriptable pat.v1.IntrospectionService for the sidecar's tests, served
// over real gRPC on 127.0.0.1:<free port>, plus a harness that wires the
// sidecar's authority client, caches, watcher, usage reporter and
// authorizer to it with a FakeClock.
//
// The fake keeps a "truth" (grants with their secrets, directory resources)
// and a change log with revisions 1, 2, 3, ... WatchGrants(0) answers with
// a snapshot of the truth and synced_revision, WatchGrants(n > 0) replays
// the log after n; then both stream new log entries as they are committed.
// A commit can be marked "lost" (not delivered on the streams open at the
// time) to simulate a gap. Heartbeats are sent only when the test asks.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/policy/route_matcher.h"
#include "common/secret.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/pat.pb.h"
#include "sidecar/authority_client.h"
#include "sidecar/authorizer.h"
#include "sidecar/directory_cache.h"
#include "sidecar/grant_cache.h"
#include "sidecar/grpc_authority_client.h"
#include "sidecar/metrics.h"
#include "sidecar/miss_limiter.h"
#include "sidecar/pat_authorizer.h"
#include "sidecar/sidecar_config.h"
#include "sidecar/sidecar_server.h"
#include "sidecar/usage_reporter.h"
#include "sidecar/watcher.h"

namespace pat::sidecar::testing {

inline const absl::Time kStart = absl::FromUnixSeconds(1767225600);

inline google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

inline std::string DigestBytes(absl::string_view secret) {
  const Digest d = Sha256(secret);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// Polls `cond` (bounded) until it holds.
inline bool WaitFor(const std::function<bool()>& cond,
                    absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

struct GrantSpec {
  std::string token_id = "tok_1";
  std::string plan_id = "plan_1";
  v1::TokenKind kind = v1::TOKEN_KIND_REST_API;
  std::vector<std::string> scopes = {"file_content:read"};
  bool all_resources = true;
  // (kind, id) of selected resources.
  std::vector<std::pair<v1::ResourceKind, std::string>> resources;
  v1::TokenStatus status = v1::TOKEN_STATUS_ACTIVE;
  absl::Time expire_time = kStart + absl::Hours(24 * 30);

  // Chainable setters: GrantSpec().Id("tok_a").Status(...).
  GrantSpec& Id(std::string v) {
    token_id = std::move(v);
    return *this;
  }
  GrantSpec& Plan(std::string v) {
    plan_id = std::move(v);
    return *this;
  }
  GrantSpec& Kind(v1::TokenKind v) {
    kind = v;
    return *this;
  }
  GrantSpec& Scopes(std::vector<std::string> v) {
    scopes = std::move(v);
    return *this;
  }
  GrantSpec& AllResources(bool v) {
    all_resources = v;
    return *this;
  }
  GrantSpec& Resources(
      std::vector<std::pair<v1::ResourceKind, std::string>> v) {
    resources = std::move(v);
    return *this;
  }
  GrantSpec& Status(v1::TokenStatus v) {
    status = v;
    return *this;
  }
  GrantSpec& Expires(absl::Time v) {
    expire_time = v;
    return *this;
  }
};

inline v1::Grant MakeGrant(const GrantSpec& spec) {
  v1::Grant g;
  g.set_token_id(spec.token_id);
  g.set_plan_id(spec.plan_id);
  g.set_kind(spec.kind);
  for (const std::string& s : spec.scopes) g.add_scopes(s);
  g.set_all_resources(spec.all_resources);
  for (const auto& [kind, id] : spec.resources) {
    v1::TokenResource* r = g.add_resources();
    r->set_kind(kind);
    r->set_id(id);
    r->set_link(absl::StrCat("https://www.figma.com/x/", id));
  }
  g.set_status(spec.status);
  *g.mutable_expire_time() = Ts(spec.expire_time);
  if (spec.status == v1::TOKEN_STATUS_REVOKED) {
    *g.mutable_revoke_time() = Ts(kStart);
  }
  return g;
}

inline v1::Resource MakeResource(
    const std::string& plan, v1::ResourceKind kind, const std::string& id,
    v1::ResourceKind parent_kind = v1::RESOURCE_KIND_UNSPECIFIED,
    const std::string& parent_id = "") {
  v1::Resource r;
  r.set_plan_id(plan);
  r.set_kind(kind);
  r.set_id(id);
  r.set_parent_kind(parent_kind);
  r.set_parent_id(parent_id);
  r.set_name(id);
  return r;
}

class FakeAuthority final : public v1::IntrospectionService::Service {
 public:
  // --- Truth and change log ---

  // Commits a grant change (the token's full state and its secrets, as
  // (secret, end) pairs). `deliver` false: lost on the open streams.
  int64_t PutGrant(
      const v1::Grant& grant,
      const std::vector<std::pair<std::string, absl::Time>>& secrets,
      bool deliver = true) {
    v1::GrantEvent event;
    *event.mutable_grant() = grant;
    for (const auto& [secret, end] : secrets) {
      v1::SecretState* s = event.add_secrets();
      s->set_secret_sha256(DigestBytes(secret));
      *s->mutable_expire_time() = Ts(end);
    }
    absl::MutexLock lock(&mu_);
    event.set_revision(++revision_);
    grants_[grant.token_id()] = event;
    Commit(event, deliver);
    return revision_;
  }

  int64_t PutResource(const v1::Resource& resource, bool deliver = true) {
    v1::GrantEvent event;
    *event.mutable_resource_upserted() = resource;
    absl::MutexLock lock(&mu_);
    event.set_revision(++revision_);
    resources_[Key(resource.kind(), resource.id())] = event;
    Commit(event, deliver);
    return revision_;
  }

  int64_t DeleteResource(v1::ResourceKind kind, const std::string& id) {
    v1::GrantEvent event;
    event.mutable_resource_deleted()->set_kind(kind);
    event.mutable_resource_deleted()->set_id(id);
    absl::MutexLock lock(&mu_);
    event.set_revision(++revision_);
    resources_.erase(Key(kind, id));
    Commit(event, true);
    return revision_;
  }

  // Known to ValidateToken only (not in snapshots or events): a token the
  // watch has not told the sidecar about. Overrides the truth.
  void SetValidateAnswer(const std::string& secret, const v1::Grant& grant,
                         absl::Time secret_end) {
    absl::MutexLock lock(&mu_);
    v1::ValidateTokenResponse response;
    response.set_found(true);
    *response.mutable_grant() = grant;
    *response.mutable_secret_expire_time() = Ts(secret_end);
    validate_only_[DigestBytes(secret)] = response;
  }

  // Known to ResolveResource only (not in snapshots or events).
  void SetResolveOnly(const v1::Resource& resource) {
    absl::MutexLock lock(&mu_);
    resolve_only_[Key(resource.kind(), resource.id())] = resource;
  }

  // --- Stream control ---

  // Every open stream sends heartbeat_revision = the current revision.
  void Heartbeat() {
    absl::MutexLock lock(&mu_);
    ++heartbeat_seq_;
  }
  // Every open stream ends with UNAVAILABLE.
  void DisconnectWatchers() {
    absl::MutexLock lock(&mu_);
    ++disconnect_epoch_;
  }

  // --- ValidateToken control ---

  // While closed, ValidateToken handlers wait (after counting the call).
  void CloseValidateGate() {
    absl::MutexLock lock(&mu_);
    gate_closed_ = true;
  }
  void OpenValidateGate() {
    absl::MutexLock lock(&mu_);
    gate_closed_ = false;
  }

  // ValidateToken answers claim to reflect `revision` (an answer taken
  // before later commits); -1: the current revision (the default).
  void PinValidateRevision(int64_t revision) {
    absl::MutexLock lock(&mu_);
    validate_revision_ = revision;
  }

  // --- Observations ---
  int directory_only_requests() const {
    absl::MutexLock lock(&mu_);
    return directory_only_requests_;
  }
  int64_t revision() const {
    absl::MutexLock lock(&mu_);
    return revision_;
  }
  int validate_calls() const {
    absl::MutexLock lock(&mu_);
    return validate_calls_;
  }
  int resolve_calls() const {
    absl::MutexLock lock(&mu_);
    return resolve_calls_;
  }
  std::vector<int64_t> watch_requests() const {
    absl::MutexLock lock(&mu_);
    return watch_requests_;
  }
  std::vector<v1::ReportUsageRequest> usage_requests() const {
    absl::MutexLock lock(&mu_);
    return usage_requests_;
  }
  int open_streams() const {
    absl::MutexLock lock(&mu_);
    return open_streams_;
  }
  // Digests seen by ValidateToken, to check that only digests are sent.
  std::vector<std::string> validated_digests() const {
    absl::MutexLock lock(&mu_);
    return validated_digests_;
  }

  // --- Service ---

  grpc::Status ValidateToken(grpc::ServerContext* context,
                             const v1::ValidateTokenRequest* request,
                             v1::ValidateTokenResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++validate_calls_;
    validated_digests_.push_back(request->secret_sha256());
    while (gate_closed_ && !context->IsCancelled()) {
      gate_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(5));
    }
    if (request->secret_sha256().size() != 32) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "secret_sha256: must be 32 bytes");
    }
    // The truth is at revision_ (validate_revision_ when a test pins it).
    const int64_t answer_revision =
        validate_revision_ >= 0 ? validate_revision_ : revision_;
    auto only = validate_only_.find(request->secret_sha256());
    if (only != validate_only_.end()) {
      *response = only->second;
      response->set_revision(answer_revision);
      return grpc::Status::OK;
    }
    for (const auto& [token_id, event] : grants_) {
      for (const v1::SecretState& s : event.secrets()) {
        if (s.secret_sha256() == request->secret_sha256()) {
          response->set_found(true);
          *response->mutable_grant() = event.grant();
          *response->mutable_secret_expire_time() = s.expire_time();
          response->set_revision(answer_revision);
          return grpc::Status::OK;
        }
      }
    }
    response->set_found(false);
    response->set_revision(answer_revision);
    return grpc::Status::OK;
  }

  grpc::Status WatchGrants(
      grpc::ServerContext* context, const v1::WatchGrantsRequest* request,
      grpc::ServerWriter<v1::WatchGrantsResponse>* writer) override {
    std::vector<v1::WatchGrantsResponse> out;
    int64_t next = 0;
    int epoch = 0;
    int heartbeats = 0;
    int stream_id = 0;
    {
      absl::MutexLock lock(&mu_);
      ++open_streams_;
      stream_id = ++stream_seq_;
      open_stream_ids_.insert(stream_id);
      watch_requests_.push_back(request->since_revision());
      if (request->directory_only()) ++directory_only_requests_;
      epoch = disconnect_epoch_;
      heartbeats = heartbeat_seq_;
      if (request->since_revision() <= 0) {
        for (const auto& [id, event] : grants_) {
          if (request->directory_only()) break;
          out.emplace_back();
          *out.back().mutable_event() = event;
          out.back().set_snapshot(true);
        }
        for (const auto& [key, event] : resources_) {
          out.emplace_back();
          *out.back().mutable_event() = event;
          out.back().set_snapshot(true);
        }
        out.emplace_back();
        out.back().set_synced_revision(revision_);
        next = revision_ + 1;
      } else {
        next = request->since_revision() + 1;
      }
    }
    grpc::Status status = grpc::Status::OK;
    while (true) {
      for (const v1::WatchGrantsResponse& m : out) {
        if (!writer->Write(m)) {
          status = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
          break;
        }
      }
      out.clear();
      if (!status.ok()) break;
      absl::MutexLock lock(&mu_);
      while (!context->IsCancelled() && epoch == disconnect_epoch_ &&
             heartbeats == heartbeat_seq_ &&
             static_cast<int64_t>(log_.size()) < next) {
        cv_.WaitWithTimeout(&mu_, absl::Milliseconds(5));
      }
      if (context->IsCancelled()) {
        status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
        break;
      }
      if (epoch != disconnect_epoch_) {
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "disconnected");
        break;
      }
      while (static_cast<int64_t>(log_.size()) >= next) {
        LogEntry& entry = log_[next - 1];
        if (entry.lost_for.count(stream_id) == 0) {
          out.emplace_back();
          *out.back().mutable_event() = entry.event;
        }
        ++next;
      }
      if (heartbeats != heartbeat_seq_) {
        heartbeats = heartbeat_seq_;
        out.emplace_back();
        out.back().set_heartbeat_revision(revision_);
      }
    }
    absl::MutexLock lock(&mu_);
    --open_streams_;
    open_stream_ids_.erase(stream_id);
    return status;
  }

  grpc::Status ResolveResource(grpc::ServerContext* context,
                               const v1::ResolveResourceRequest* request,
                               v1::ResolveResourceResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++resolve_calls_;
    std::string key = Key(request->kind(), request->id());
    for (int depth = 0; depth < 8 && !key.empty(); ++depth) {
      const v1::Resource* r = FindResource(key);
      if (r == nullptr) break;
      *response->add_chain() = *r;
      if (response->plan_id().empty()) response->set_plan_id(r->plan_id());
      key = r->parent_id().empty() ? "" : Key(r->parent_kind(), r->parent_id());
    }
    if (response->chain_size() == 0) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such resource");
    }
    return grpc::Status::OK;
  }

  grpc::Status ReportUsage(grpc::ServerContext* context,
                           const v1::ReportUsageRequest* request,
                           v1::ReportUsageResponse* response) override {
    absl::MutexLock lock(&mu_);
    usage_requests_.push_back(*request);
    return grpc::Status::OK;
  }

 private:
  struct LogEntry {
    v1::GrantEvent event;
    // Streams (by id) that never get this event (simulated loss).
    std::set<int> lost_for;
  };

  static std::string Key(int kind, const std::string& id) {
    return absl::StrCat(kind, ":", id);
  }

  void Commit(const v1::GrantEvent& event, bool deliver)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    LogEntry entry;
    entry.event = event;
    if (!deliver) {
      // Lost on every stream open now; a later stream (a resubscription)
      // sees the truth.
      entry.lost_for = open_stream_ids_;
    }
    log_.push_back(std::move(entry));
    cv_.SignalAll();
  }

  const v1::Resource* FindResource(const std::string& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = resources_.find(key);
    if (it != resources_.end()) return &it->second.resource_upserted();
    auto only = resolve_only_.find(key);
    if (only != resolve_only_.end()) return &only->second;
    return nullptr;
  }

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  absl::CondVar gate_cv_;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, v1::GrantEvent> grants_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::GrantEvent> resources_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::ValidateTokenResponse> validate_only_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Resource> resolve_only_ ABSL_GUARDED_BY(mu_);
  std::vector<LogEntry> log_ ABSL_GUARDED_BY(mu_);  // log_[r - 1]: revision r
  std::set<int> open_stream_ids_ ABSL_GUARDED_BY(mu_);
  int stream_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int heartbeat_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int disconnect_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool gate_closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t validate_revision_ ABSL_GUARDED_BY(mu_) = -1;
  int directory_only_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
  int validate_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int resolve_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> watch_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReportUsageRequest> usage_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> validated_digests_ ABSL_GUARDED_BY(mu_);
};

// The sidecar (SidecarServer::Create, the production wiring) against a
// FakeAuthority, with a FakeClock. The watcher starts only when a test asks
// (StartWatcher / StartSynced), so the fake's truth can be set up first.
class Harness {
 public:
  struct Options {
    TokenKind api = TokenKind::kRestApi;
    absl::Duration staleness_bound = absl::Seconds(30);
    GrantCacheOptions cache;
    // --cache_mode (these tests default to the full-snapshot mode).
    std::string cache_mode = "full";
    int64_t cache_max_grants = 50000;
    bool usage_thread = false;
    UsageReporterOptions usage;
    MissLimits miss_limits;
    absl::Duration rpc_timeout = absl::Seconds(5);
  };

  // One Authorize() call whose result arrives later; owns what the
  // RequestView points to.
  struct AsyncCall {
    std::string method;
    std::string target;
    std::string header;
    std::string client_ip;
    absl::Notification done;
    AuthzResult result;  // valid once done
  };

  Harness() : Harness(Options()) {}
  explicit Harness(Options options) : options_(std::move(options)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&fake);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_GT(port_, 0);

    AuthorityClientConfig config;
    config.target = absl::StrCat("127.0.0.1:", port_);
    config.insecure = true;
    config.rpc_timeout = options_.rpc_timeout;
    SidecarDeps deps{.clock = clock};
    deps.authority_client_factory = [config](MetricsRegistry& metrics) {
      return GrpcAuthorityClient::Create(config, metrics);
    };
    deps.cache = options_.cache;
    deps.usage = options_.usage;
    deps.usage.start_thread = options_.usage_thread;
    deps.miss_limits = options_.miss_limits;
    // A long idle timeout: the fake heartbeats on demand.
    deps.watcher.idle_timeout = absl::Minutes(10);
    deps.start_watcher = false;
    deps.access_log_sink = [](absl::string_view) {};
    sidecar = *SidecarServer::Create(
        SidecarTestConfig(options_.api, config.target, options_.staleness_bound,
                          options_.cache_mode, options_.cache_max_grants),
        std::move(deps));
    metrics = &sidecar->metrics();
    client = &sidecar->authority_client();
    grants = &sidecar->grants();
    directory = &sidecar->directory();
    usage = &sidecar->usage();
    authorizer = &sidecar->authorizer();
  }

  ~Harness() {
    if (sidecar != nullptr) sidecar->Shutdown(absl::ZeroDuration());
    StopServer();
    sidecar.reset();
  }

  // A validated configuration for tests: loopback port 0, an upstream
  // nobody listens on (the authorizer tests never forward).
  static SidecarConfig SidecarTestConfig(TokenKind api, std::string authority,
                                         absl::Duration staleness_bound,
                                         std::string cache_mode = "full",
                                         int64_t cache_max_grants = 50000) {
    SidecarConfig raw;
    raw.cache_mode = std::move(cache_mode);
    raw.cache_max_grants = cache_max_grants;
    raw.listen = "127.0.0.1:0";
    raw.admin_listen = "127.0.0.1:0";
    raw.upstream = "http://127.0.0.1:9";
    raw.authority = std::move(authority);
    raw.insecure = true;
    raw.api = api == TokenKind::kNpmRegistry ? "npm" : "rest";
    raw.staleness_bound = staleness_bound;
    raw.workers = 2;
    absl::StatusOr<SidecarConfig> config = ValidateSidecarConfig(raw);
    EXPECT_TRUE(config.ok()) << config.status();
    return *config;
  }

  // Starts the watcher.
  void StartWatcher() {
    ASSERT_TRUE(sidecar->StartWatcher().ok());
    watcher = sidecar->watcher();
  }

  // Starts the watcher and waits for it to sync.
  void StartSynced() {
    StartWatcher();
    ASSERT_TRUE(WaitFor([&] { return watcher->synced(); }));
  }

  // Waits until the watcher applied `revision`.
  bool WaitRevision(int64_t revision) {
    return WaitFor([&] { return watcher->revision() >= revision; });
  }

  void StopServer() {
    if (server_ == nullptr) return;
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    server_->Wait();
    server_.reset();
  }

  // Authorize() and wait for its callback (which may run on another
  // thread).
  AuthzResult Call(
      absl::string_view method, absl::string_view target,
      std::vector<std::pair<absl::string_view, absl::string_view>> credentials,
      absl::string_view client_ip = "10.0.0.1") {
    RequestView request;
    request.method = method;
    request.target = target;
    request.credentials = std::move(credentials);
    request.client_ip = client_ip;
    request.request_id = "req-1";
    absl::Notification done;
    AuthzResult result;
    int calls = 0;
    authorizer->Authorize(request, [&](AuthzResult r) {
      result = std::move(r);
      ++calls;
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)))
        << "Authorize never completed";
    EXPECT_EQ(calls, 1);
    return result;
  }

  AuthzResult Bearer(absl::string_view secret,
                     absl::string_view target = "/v1/files/KEY1",
                     absl::string_view method = "GET") {
    const std::string header = absl::StrCat("Bearer ", secret);
    return Call(method, target, {{"authorization", header}});
  }

  // Authorize() without waiting: `inline_done` tells whether the callback
  // ran before Authorize() returned.
  std::shared_ptr<AsyncCall> Start(absl::string_view secret,
                                   absl::string_view client_ip,
                                   absl::string_view target = "/v1/files/KEY1",
                                   bool* inline_done = nullptr) {
    auto call = std::make_shared<AsyncCall>();
    call->method = "GET";
    call->target = std::string(target);
    call->header = absl::StrCat("Bearer ", secret);
    call->client_ip = std::string(client_ip);
    RequestView request;
    request.method = call->method;
    request.target = call->target;
    request.credentials = {{"authorization", call->header}};
    request.client_ip = call->client_ip;
    request.request_id = "req-async";
    authorizer->Authorize(request, [call](AuthzResult r) {
      call->result = std::move(r);
      call->done.Notify();
    });
    if (inline_done != nullptr) *inline_done = call->done.HasBeenNotified();
    return call;
  }

  uint64_t CounterValue(absl::string_view name, const Labels& labels = {}) {
    return metrics->GetCounter(name, "", labels).value();
  }

  FakeAuthority fake;
  FakeClock clock{kStart};
  std::unique_ptr<SidecarServer> sidecar;
  // Owned by `sidecar`.
  MetricsRegistry* metrics = nullptr;
  AuthorityClient* client = nullptr;
  GrantCache* grants = nullptr;
  DirectoryCache* directory = nullptr;
  UsageReporter* usage = nullptr;
  PatAuthorizer* authorizer = nullptr;
  Watcher* watcher = nullptr;

 private:
  Options options_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace pat::sidecar::testing

#endif  // PAT_TESTS_SIDECAR_FAKE_AUTHORITY_H_
