#include "server/authority_server.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "pat/v1/leak_intake.grpc.pb.h"
#include "server/blocking_workers.h"
#include "server/caller_auth.h"
#include "server/db_deadline.h"
#include "server/db_pool.h"
#include "server/directory_service.h"
#include "server/grant_feed.h"
#include "server/introspection_service.h"
#include "server/leak_intake.h"
#include "server/log_line_writer.h"
#include "server/migrations.h"
#include "server/pg_token_store.h"
#include "server/pg_usage_store.h"
#include "server/rpc_observer.h"
#include "server/snapshot_share.h"
#include "server/token_components.h"
#include "server/token_service.h"
#include "server/token_service_limits.h"
#include "server/validate_memory.h"
#include "server/watch_fanout.h"
#include "server/webhooks/pg_webhook_store.h"
#include "server/webhooks/webhook_service.h"
#include "server/webhooks/webhook_worker.h"

namespace pat {
namespace {

// Requests larger than this are refused with RESOURCE_EXHAUSTED before any
// handler runs (threat checklist #25).
constexpr int kMaxReceiveMessageBytes = 4 * 1024 * 1024;
// ValidateToken calls waiting for a database read beyond the pool's
// connections; more are refused UNAVAILABLE "busy" (sidecars retry).
constexpr size_t kValidateQueue = 4096;
// Threads reading ValidateToken's batched misses.
constexpr int kValidateReaders = 4;
// WatchGrants database work: threads (mostly waiting on a shared snapshot
// read, which SnapshotShare bounds) and queued stream starts.
constexpr int kWatchWorkers = 8;
constexpr size_t kWatchQueue = 4096;

absl::Status FlagError(absl::string_view flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", message));
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FlagError(flag, "cannot read the file");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return FlagError(flag, "cannot read the file");
  return contents.str();
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
};

std::unique_ptr<BIO, BioDeleter> MemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Checks that the PEM files parse and that the key belongs to the
// certificate, so that a misconfiguration is reported at start, naming the
// flag, instead of as failing handshakes.
absl::Status CheckTlsMaterial(const std::string& cert_pem,
                              const std::string& key_pem,
                              const std::string& ca_pem) {
  auto cert_bio = MemBio(cert_pem);
  std::unique_ptr<X509, X509Deleter> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  auto key_bio = MemBio(key_pem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  auto ca_bio = MemBio(ca_pem);
  std::unique_ptr<X509, X509Deleter> ca(
      PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
  absl::Status status;
  if (cert == nullptr) {
    status = FlagError("tls_cert", "no PEM certificate in the file");
  } else if (key == nullptr) {
    status = FlagError("tls_key", "no unencrypted PEM private key in the file");
  } else if (ca == nullptr) {
    status = FlagError("tls_client_ca", "no PEM certificate in the file");
  } else if (X509_check_private_key(cert.get(), key.get()) != 1) {
    status = FlagError("tls_key", "does not match the --tls_cert certificate");
  }
  ERR_clear_error();
  return status;
}

class AuthorityServerImpl final : public AuthorityServer {
 public:
  AuthorityServerImpl() = default;
  ~AuthorityServerImpl() override {
    if (server_ != nullptr) {
      Shutdown(absl::ZeroDuration());
      server_->Wait();
    }
  }

  absl::Status Start(const AuthorityConfig& config, const Clock& clock,
                     AuthorityMetrics* metrics);

  int port() const override { return port_; }

  bool feed_live() const override { return feed_->live(); }

  std::string feed_listen_problem() const override {
    if (feed_->listening()) return "";
    return absl::StrCat("feed LISTEN self-check: ",
                        ListenStateName(feed_->listen_state()),
                        " (serving changes by polling)");
  }

  void SetServing(bool serving) override {
    if (grpc::HealthCheckServiceInterface* health =
            server_->GetHealthCheckService();
        health != nullptr) {
      health->SetServingStatus(serving);
    }
  }

  void UpdateGauges(AuthorityMetrics& metrics) const override {
    metrics.pool_size.Set(pool_->size());
    metrics.pool_open.Set(pool_->open_connections());
    metrics.pool_in_use.Set(pool_->leased_connections());
    metrics.feed_head.Set(feed_->head());
    metrics.feed_live.Set(feed_->live() ? 1 : 0);
    metrics.feed_listen_receiving.Set(
        feed_->listen_state() == ListenState::kReceiving ? 1 : 0);
  }

  void Shutdown(absl::Duration grace) override {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    // Watch streams never finish on their own: end them first (UNAVAILABLE,
    // so sidecars reconnect elsewhere) instead of holding the drain.
    if (feed_ != nullptr) feed_->Stop();
    if (watch_fanout_ != nullptr) watch_fanout_->Stop();
    if (webhook_worker_ != nullptr) webhook_worker_->Stop();
    // Health checks answer NOT_SERVING while in-flight RPCs drain.
    if (grpc::HealthCheckServiceInterface* health =
            server_->GetHealthCheckService();
        health != nullptr) {
      health->Shutdown();
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    shut_down_ = true;
  }

  void Wait() override { server_->Wait(); }

 private:
  // Destroyed in reverse order: the gRPC server first, the pool last.
  std::unique_ptr<DbPool> pool_;
  std::unique_ptr<PgTokenStore> store_;
  std::unique_ptr<FeedHub> feed_;
  std::unique_ptr<ValidateMemory> validate_memory_;
  TokenComponents components_;
  std::unique_ptr<usage::PgUsageStore> usage_store_;
  std::unique_ptr<usage::UsageService> usage_;
  std::unique_ptr<SnapshotShare> snapshots_;
  // Snapshots without grants (sidecars in the used-only cache mode).
  std::unique_ptr<SnapshotShare> directory_snapshots_;
  // ValidateToken's database reads when memory is off.
  std::unique_ptr<SecretSource> database_secrets_;
  std::unique_ptr<CallerAuth> auth_;
  // The access log's writer; outlives server_ (declared first), so every
  // RPC's line is appended before it flushes in its destructor.
  std::unique_ptr<LogLineWriter> access_log_;
  std::unique_ptr<TokenServiceLimits> token_limits_;
  std::unique_ptr<TokenServiceImpl> token_service_;
  std::unique_ptr<DirectoryServiceImpl> directory_service_;
  // RPC deadlines are wall-clock instants (gRPC's), not the injected
  // domain clock that tests move: ValidateBatcher checks them on this one.
  RealClock deadline_clock_;
  std::unique_ptr<ValidateBatcher> validate_batcher_;
  // Stopped (running every accepted task) before the fanout they read.
  std::unique_ptr<WatchFanout> watch_fanout_;
  std::unique_ptr<BlockingWorkers> watch_workers_;
  std::unique_ptr<IntrospectionServiceImpl> introspection_service_;
  std::unique_ptr<webhooks::PgWebhookStore> webhook_store_;
  std::unique_ptr<webhooks::WebhookServiceImpl> webhook_service_;
  std::unique_ptr<webhooks::WebhookWorker> webhook_worker_;
  std::unique_ptr<LeakIntake> leak_intake_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

absl::Status AuthorityServerImpl::Start(const AuthorityConfig& config,
                                        const Clock& clock,
                                        AuthorityMetrics* metrics) {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (config.insecure) {
    credentials = grpc::InsecureServerCredentials();
    auth_ = CallerAuth::Insecure();
  } else {
    PAT_ASSIGN_OR_RETURN(std::string cert,
                         ReadFile("tls_cert", config.tls_cert_path));
    PAT_ASSIGN_OR_RETURN(std::string key,
                         ReadFile("tls_key", config.tls_key_path));
    PAT_ASSIGN_OR_RETURN(std::string ca,
                         ReadFile("tls_client_ca", config.tls_client_ca_path));
    PAT_RETURN_IF_ERROR(CheckTlsMaterial(cert, key, ca));
    if (config.callers.empty()) {
      return FlagError("callers_config", "names no callers");
    }
    // Client certificates are required and verified against the CA; never
    // "request but don't verify" (threat checklist #40).
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = std::move(ca);
    options.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
    credentials = grpc::SslServerCredentials(options);
    auth_ = CallerAuth::Mtls(config.callers);
  }

  DbPoolMetrics pool_metrics;
  if (metrics != nullptr) {
    pool_metrics.acquire_wait = &metrics->pool_wait;
    pool_metrics.acquire_timeouts = &metrics->pool_timeouts;
  }
  PAT_ASSIGN_OR_RETURN(pool_,
                       DbPool::Create(config.database_url, config.db_pool_size,
                                      config.db_acquire_timeout, pool_metrics));
  if (config.auto_migrate) {
    PAT_RETURN_IF_ERROR(ApplyMigrations(config.database_url));
  }
  PAT_ASSIGN_OR_RETURN(store_, PgTokenStore::Create(*pool_));
  FeedHubOptions feed_options;
  feed_options.database_url = config.feed_database_url.empty()
                                  ? config.database_url
                                  : config.feed_database_url;
  feed_options.probe_pool = pool_.get();
  feed_options.listen_check_interval = config.feed_listen_check_interval;
  feed_options.listen_check_timeout = config.feed_listen_check_timeout;
  if (metrics != nullptr) {
    feed_options.notify_wakeups = &metrics->feed_notify_wakeups;
    feed_options.poll_wakeups = &metrics->feed_poll_wakeups;
    feed_options.probes_received = &metrics->feed_probes_received;
    feed_options.probes_missed = &metrics->feed_probes_missed;
    feed_options.probes_unsent = &metrics->feed_probes_unsent;
  }
  PAT_ASSIGN_OR_RETURN(feed_, FeedHub::Start(std::move(feed_options), clock));
  // One digest: the single-row statement; more: one statement per
  // kMaxSecretsPerRead (each answer carries the head of its own read).
  auto load_secret = [store = store_.get()](absl::Span<const Digest> digests)
      -> absl::StatusOr<std::vector<SecretAtHead>> {
    std::vector<SecretAtHead> out;
    out.reserve(digests.size());
    if (digests.size() == 1) {
      PAT_ASSIGN_OR_RETURN(SecretAtHead read,
                           store->LookupSecretWithHead(digests.front()));
      out.push_back(std::move(read));
      return out;
    }
    for (size_t i = 0; i < digests.size();
         i += PgTokenStore::kMaxSecretsPerRead) {
      PAT_ASSIGN_OR_RETURN(std::vector<SecretAtHead> part,
                           store->LookupSecretsWithHead(digests.subspan(
                               i, PgTokenStore::kMaxSecretsPerRead)));
      for (SecretAtHead& a : part) out.push_back(std::move(a));
    }
    return out;
  };
  if (config.validate_memory_entries > 0) {
    ValidateMemoryOptions memory_options;
    memory_options.view.max_entries = config.validate_memory_entries;
    memory_options.view.max_unknown =
        std::max(1, config.validate_memory_entries / 4);
    if (metrics != nullptr) {
      memory_options.memory_hits = &metrics->validate_memory_hits;
      memory_options.database_reads = &metrics->validate_database_reads;
      memory_options.entries = &metrics->validate_memory_entries;
    }
    PAT_ASSIGN_OR_RETURN(
        validate_memory_,
        ValidateMemory::Start(
            memory_options, load_secret,
            [pool = pool_.get()] { return pool->newest_feed_commit(); },
            *feed_));
  } else {
    database_secrets_ = std::make_unique<DatabaseSecrets>(load_secret);
  }
  SecretSource* secrets =
      validate_memory_ != nullptr
          ? static_cast<SecretSource*>(validate_memory_.get())
          : database_secrets_.get();
  PAT_ASSIGN_OR_RETURN(components_,
                       TokenComponents::Create(*store_, clock, secrets));
  usage_store_ = std::make_unique<usage::PgUsageStore>(*pool_);
  usage_ = std::make_unique<usage::UsageService>(*components_.lifecycle,
                                                 *usage_store_);
  RateLimitCounters limit_counters;
  if (metrics != nullptr) {
    limit_counters.actor = &metrics->rate_limited_actor;
    limit_counters.caller = &metrics->rate_limited_caller;
  }
  token_limits_ = std::make_unique<TokenServiceLimits>(
      config.caller_rate_limit, config.actor_rate_limit, clock, limit_counters);
  token_service_ = std::make_unique<TokenServiceImpl>(
      *components_.lifecycle, *components_.access, *auth_, *token_limits_,
      usage_.get());
  directory_service_ =
      std::make_unique<DirectoryServiceImpl>(*components_.directory, *auth_);
  SnapshotShareOptions share_options;
  // One connection is left for every other RPC: the full snapshots get
  // --snapshot_reads of the rest, the (short) directory-only ones one.
  share_options.max_concurrent_reads =
      std::max(1, std::min(config.snapshot_reads, config.db_pool_size - 2));
  if (metrics != nullptr) {
    share_options.reads = &metrics->snapshot_reads;
    share_options.shared = &metrics->snapshot_shared;
    share_options.waiters = &metrics->snapshot_waiters;
  }
  snapshots_ = std::make_unique<SnapshotShare>(
      [introspection = components_.introspection.get()] {
        return introspection->ReadFeedSnapshot(/*with_grants=*/true);
      },
      share_options);
  share_options.max_concurrent_reads = 1;
  directory_snapshots_ = std::make_unique<SnapshotShare>(
      [introspection = components_.introspection.get()] {
        return introspection->ReadFeedSnapshot(/*with_grants=*/false);
      },
      share_options);
  // ValidateToken calls that must read the database: read in batches by
  // up to kValidateReaders threads (one per 4 pool connections), a bounded
  // queue behind them.
  ValidateBatcher::Options batcher_options;
  batcher_options.readers =
      std::clamp(config.db_pool_size / 4, 1, kValidateReaders);
  batcher_options.max_queued = kValidateQueue;
  if (metrics != nullptr) {
    batcher_options.reads = &metrics->validate_batches;
    batcher_options.calls = &metrics->validate_batched_calls;
  }
  PAT_ASSIGN_OR_RETURN(validate_batcher_,
                       ValidateBatcher::Create(
                           batcher_options,
                           [introspection = components_.introspection.get()](
                               absl::Span<const std::string> digests,
                               std::optional<absl::Time> deadline) {
                             const ScopedDbDeadline scoped(deadline);
                             return introspection->ValidateTokens(digests);
                           },
                           deadline_clock_));
  // WatchGrants: one serialization per event for every stream, and the
  // streams' database work (positions, shared snapshots, catch-up reads)
  // on a few threads of its own, so a start-up storm never queues
  // ValidateToken behind snapshot waits.
  PAT_ASSIGN_OR_RETURN(watch_workers_,
                       BlockingWorkers::Create(kWatchWorkers, kWatchQueue));
  WatchFanoutOptions fanout_options;
  fanout_options.ring_capacity =
      static_cast<size_t>(config.watch_buffer_events);
  // The writes of one event to every stream start on every core at once.
  fanout_options.notify_threads =
      static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  if (metrics != nullptr) {
    fanout_options.serialized = &metrics->watch_events_serialized;
  }
  PAT_ASSIGN_OR_RETURN(watch_fanout_,
                       WatchFanout::Start(*feed_, fanout_options));
  IntrospectionOptions introspection_options;
  introspection_options.metrics = metrics;
  introspection_options.validate_batcher = validate_batcher_.get();
  introspection_options.fanout = watch_fanout_.get();
  introspection_options.watch_workers = watch_workers_.get();
  introspection_options.directory_snapshots = directory_snapshots_.get();
  introspection_options.evict_grace = config.watch_evict_grace;
  introspection_options.usage = usage_.get();
  introspection_service_ = std::make_unique<IntrospectionServiceImpl>(
      *components_.introspection, *auth_, *feed_, *snapshots_,
      introspection_options);

  PAT_ASSIGN_OR_RETURN(leak_intake_, LeakIntake::Start(config, *pool_, *store_,
                                                      *auth_, clock, metrics));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, credentials, &port_);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  if (metrics != nullptr) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    access_log_ = std::make_unique<LogLineWriter>(LogLineWriter::Options{});
    interceptors.push_back(std::make_unique<RpcObserverFactory>(
        *metrics, *auth_,
        [writer = access_log_.get(), metrics](const std::string& line) {
          if (!writer->Write(line)) metrics->access_log_dropped.Inc();
        }));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  // gRPC's default (at most 2 idle polling threads) makes the sync server
  // create and destroy a thread for most calls under load (about 180 thread
  // exits per second in bench/authority); keep enough for the database pool.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
      std::max(4, 2 * config.db_pool_size));
  builder.RegisterService(token_service_.get());
  builder.RegisterService(directory_service_.get());
  builder.RegisterService(introspection_service_.get());
  if (config.webhooks.enabled) {
    webhook_store_ = std::make_unique<webhooks::PgWebhookStore>(*pool_);
    webhook_service_ = std::make_unique<webhooks::WebhookServiceImpl>(
        *webhook_store_, *store_, *auth_, *token_limits_, clock);
    builder.RegisterService(webhook_service_.get());
    webhook_worker_ = std::make_unique<webhooks::WebhookWorker>(
        *webhook_store_, clock, config.webhooks);
  }
  builder.RegisterService(leak_intake_->service());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    if (server_ != nullptr) {
      server_->Shutdown();
      server_->Wait();
      server_.reset();
    }
    // Not UNAVAILABLE: that means "the database is down, retry".
    return absl::FailedPreconditionError(
        absl::StrCat("--listen: cannot listen on ", config.listen));
  }
  // The overall status ("") is SERVING by default; name each service too so
  // that probes may ask for a specific one.
  if (grpc::HealthCheckServiceInterface* health =
          server_->GetHealthCheckService();
      health != nullptr) {
    for (const char* name : {v1::TokenService::service_full_name(),
                             v1::DirectoryService::service_full_name(),
                             v1::IntrospectionService::service_full_name(),
                             v1::LeakIntakeService::service_full_name()}) {
      health->SetServingStatus(name, true);
    }
    if (webhook_service_ != nullptr) {
      health->SetServingStatus(v1::WebhookService::service_full_name(), true);
    }
  }
  if (webhook_worker_ != nullptr) webhook_worker_->Start();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuthorityServer>> AuthorityServer::Create(
    const AuthorityConfig& config, const Clock& clock,
    AuthorityMetrics* metrics) {
  auto server = std::make_unique<AuthorityServerImpl>();
  PAT_RETURN_IF_ERROR(server->Start(config, clock, metrics));
  return std::unique_ptr<AuthorityServer>(std::move(server));
}

}  // namespace pat
