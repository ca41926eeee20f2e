#include "bench/authority/authority_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/secret.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"

namespace pat::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Channel argument whose only purpose is to make each channel's arguments
// distinct, so that no two channels share a subchannel (connection).
constexpr char kChannelIndexArg[] = "pat.bench.channel_index";

// Error keys that are not gRPC codes.
constexpr char kValidateNotFound[] = "VALIDATE_NOT_FOUND";
constexpr char kValidateWrongToken[] = "VALIDATE_WRONG_TOKEN";
constexpr char kNoSecret[] = "NO_SECRET_RETURNED";

absl::StatusOr<std::string> ReadPem(absl::string_view flag,
                                    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// What one call came to. `key` and `detail` are set only on failure.
struct Outcome {
  bool ok = true;
  std::string key;
  std::string detail;
};

Outcome Failed(std::string key, std::string detail) {
  return Outcome{false, std::move(key), std::move(detail)};
}

Outcome FromStatus(const grpc::Status& status) {
  if (status.ok()) return Outcome{};
  return Failed(CodeName(status.error_code()), status.error_message());
}

bool Transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::ABORTED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

// Logs the first failure of each error key to stderr. Thread-safe.
class FirstErrorLog {
 public:
  explicit FirstErrorLog(absl::string_view what) : what_(what) {}

  void Note(const Outcome& outcome) {
    absl::MutexLock lock(&mu_);
    if (!logged_.insert(outcome.key).second) return;
    std::cerr << "pat-bench-authority: " << what_ << ": first " << outcome.key
              << ": " << absl::CHexEscape(outcome.detail) << "\n";
  }

 private:
  const std::string what_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> logged_ ABSL_GUARDED_BY(mu_);
};

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout);
}

// --- load workers ------------------------------------------------------------

// Everything the workers of one load run share (read-only, except `cursor`).
struct LoadShared {
  const LoadOptions* options = nullptr;
  const std::vector<TokenSecret>* tokens = nullptr;
  std::vector<std::string> digests;  // validate: SHA-256 of each secret
  // once/revoke: the next position in `order` to claim; each position is
  // claimed by exactly one worker.
  std::atomic<size_t> cursor{0};
  std::vector<size_t> order;  // once/revoke: a permutation of the tokens
  std::string run_id;
  SteadyClock::time_point measure_from;
  SteadyClock::time_point stop_at;  // time_point::max() for --once
  FirstErrorLog* log = nullptr;
};

struct WorkerStats {
  int64_t calls = 0;
  int64_t ok = 0;
  std::vector<int64_t> latencies_ns;
  ErrorCounts errors;
  SteadyClock::time_point last_done{};
  bool exhausted = false;
};

class LoadWorker {
 public:
  LoadWorker(int index, LoadShared& shared,
             const std::shared_ptr<grpc::Channel>& channel)
      : index_(index),
        shared_(shared),
        options_(*shared.options),
        tokens_(v1::TokenService::NewStub(channel)),
        introspection_(v1::IntrospectionService::NewStub(channel)),
        rng_(std::random_device{}() ^ (static_cast<uint64_t>(index) << 32)) {
    const size_t n = shared.tokens->size();
    if (n > 0) {
      position_ = static_cast<size_t>(index) * n /
                  static_cast<size_t>(options_.concurrency);
    }
  }

  // Validate calls on the callback API, one in flight, each started from
  // the completion of the one before; `done` runs after the last.
  void RunCallback(WorkerStats& stats, std::function<void()> done) {
    stats.latencies_ns.reserve(1 << 16);
    stats_ = &stats;
    done_ = std::move(done);
    StartNext();
  }

  void Run(WorkerStats& stats) {
    stats.latencies_ns.reserve(1 << 16);
    for (;;) {
      const SteadyClock::time_point start = SteadyClock::now();
      if (start >= shared_.stop_at) break;
      size_t token = 0;
      if (!NextToken(&token)) {
        stats.exhausted = true;
        break;
      }
      Outcome outcome = Call(token);
      const SteadyClock::time_point done = SteadyClock::now();
      if (!outcome.ok) shared_.log->Note(outcome);
      if (start < shared_.measure_from) continue;
      ++stats.calls;
      stats.last_done = std::max(stats.last_done, done);
      if (outcome.ok) {
        ++stats.ok;
        stats.latencies_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(done - start)
                .count());
      } else {
        ++stats.errors[outcome.key];
      }
    }
  }

 private:
  bool Exhausting() const {
    return options_.once || options_.rpc == Rpc::kRevoke;
  }

  // The index (into tokens/digests) of the next call; false when the list is
  // exhausted (once/revoke only).
  bool NextToken(size_t* token) {
    if (options_.rpc == Rpc::kCreate || options_.rpc == Rpc::kBaseline) {
      return true;
    }
    const size_t n = shared_.tokens->size();
    if (Exhausting()) {
      size_t at = shared_.cursor.fetch_add(1, std::memory_order_relaxed);
      if (at >= n) return false;
      *token = shared_.order[at];
      return true;
    }
    if (options_.order == Order::kRandom) {
      *token = std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
      return true;
    }
    *token = position_;
    position_ = position_ + 1 == n ? 0 : position_ + 1;
    return true;
  }

  void StartNext() {
    call_start_ = SteadyClock::now();
    if (call_start_ >= shared_.stop_at || !NextToken(&call_token_)) {
      if (call_start_ < shared_.stop_at) stats_->exhausted = true;
      done_();
      return;
    }
    call_ = std::make_unique<AsyncCall>();
    call_->request.set_secret_sha256(shared_.digests[call_token_]);
    call_->ctx.set_deadline(Deadline(options_.timeout));
    introspection_->async()->ValidateToken(
        &call_->ctx, &call_->request, &call_->response,
        [this](grpc::Status status) {
          const SteadyClock::time_point done = SteadyClock::now();
          Outcome outcome = status.ok()
                                ? CheckValidate(call_token_, call_->response)
                                : FromStatus(status);
          if (!outcome.ok) shared_.log->Note(outcome);
          if (call_start_ >= shared_.measure_from) {
            ++stats_->calls;
            stats_->last_done = std::max(stats_->last_done, done);
            if (outcome.ok) {
              ++stats_->ok;
              stats_->latencies_ns.push_back(
                  std::chrono::duration_cast<std::chrono::nanoseconds>(
                      done - call_start_)
                      .count());
            } else {
              ++stats_->errors[outcome.key];
            }
          }
          StartNext();
        });
  }

  std::string NextRequestId() {
    return absl::StrCat(shared_.run_id, "-", index_, "-", ++sequence_);
  }

  void PrepareAdmin(grpc::ClientContext& ctx) const {
    ctx.set_deadline(Deadline(options_.timeout));
    ctx.AddMetadata("x-pat-actor", options_.actor);
  }

  Outcome Call(size_t token) {
    switch (options_.rpc) {
      case Rpc::kValidate:
        return Validate(token);
      case Rpc::kCreate:
        return Create();
      case Rpc::kRefresh:
        return Refresh(token);
      case Rpc::kRevoke:
        return Revoke(token);
      case Rpc::kGet:
        return Get(token);
      case Rpc::kBaseline:
        return Baseline();
    }
    return Failed("INTERNAL", "unknown rpc");
  }

  Outcome Validate(size_t token) {
    v1::ValidateTokenRequest request;
    request.set_secret_sha256(shared_.digests[token]);
    v1::ValidateTokenResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(options_.timeout));
    grpc::Status status =
        introspection_->ValidateToken(&ctx, request, &response);
    if (!status.ok()) return FromStatus(status);
    return CheckValidate(token, response);
  }

  Outcome CheckValidate(size_t token,
                        const v1::ValidateTokenResponse& response) const {
    const std::string& id = (*shared_.tokens)[token].token_id;
    if (!response.found()) {
      return Failed(kValidateNotFound,
                    absl::StrCat("found=false for the secret of ", id));
    }
    if (response.grant().token_id() != id) {
      return Failed(kValidateWrongToken,
                    absl::StrCat("the secret of ", id, " resolved to ",
                                 response.grant().token_id()));
    }
    return Outcome{};
  }

  Outcome Baseline() {
    v1::ValidateTokenRequest request;  // no digest: rejected before storage
    v1::ValidateTokenResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(options_.timeout));
    grpc::Status status =
        introspection_->ValidateToken(&ctx, request, &response);
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return Outcome{};
    }
    if (status.ok()) {
      return Failed("UNEXPECTED_OK", "an empty digest was accepted");
    }
    return FromStatus(status);
  }

  Outcome Create() {
    std::string request_id = NextRequestId();
    v1::CreateTokenRequest request =
        MakeCreateRequest(options_.spec, options_.plan_id,
                          absl::StrCat("bench ", request_id), request_id);
    v1::CreateTokenResponse response;
    grpc::ClientContext ctx;
    PrepareAdmin(ctx);
    grpc::Status status = tokens_->CreateToken(&ctx, request, &response);
    if (!status.ok()) return FromStatus(status);
    if (response.secret().empty()) {
      return Failed(kNoSecret, "CreateToken answered without a secret");
    }
    return Outcome{};
  }

  Outcome Refresh(size_t token) {
    v1::RefreshTokenRequest request;
    request.set_plan_id(options_.plan_id);
    request.set_token_id((*shared_.tokens)[token].token_id);
    request.set_request_id(NextRequestId());
    v1::RefreshTokenResponse response;
    grpc::ClientContext ctx;
    PrepareAdmin(ctx);
    grpc::Status status = tokens_->RefreshToken(&ctx, request, &response);
    if (!status.ok()) return FromStatus(status);
    if (response.secret().empty()) {
      return Failed(kNoSecret, "RefreshToken answered without a secret");
    }
    return Outcome{};
  }

  Outcome Revoke(size_t token) {
    v1::RevokeTokenRequest request;
    request.set_plan_id(options_.plan_id);
    request.set_token_id((*shared_.tokens)[token].token_id);
    v1::Token response;
    grpc::ClientContext ctx;
    PrepareAdmin(ctx);
    return FromStatus(tokens_->RevokeToken(&ctx, request, &response));
  }

  Outcome Get(size_t token) {
    v1::GetTokenRequest request;
    request.set_plan_id(options_.plan_id);
    request.set_token_id((*shared_.tokens)[token].token_id);
    v1::Token response;
    grpc::ClientContext ctx;
    PrepareAdmin(ctx);
    return FromStatus(tokens_->GetToken(&ctx, request, &response));
  }

  const int index_;
  LoadShared& shared_;
  const LoadOptions& options_;
  std::unique_ptr<v1::TokenService::Stub> tokens_;
  std::unique_ptr<v1::IntrospectionService::Stub> introspection_;
  std::mt19937_64 rng_;
  size_t position_ = 0;
  int64_t sequence_ = 0;
  // The callback chain's call in flight (RunCallback).
  struct AsyncCall {
    grpc::ClientContext ctx;
    v1::ValidateTokenRequest request;
    v1::ValidateTokenResponse response;
  };
  std::unique_ptr<AsyncCall> call_;
  size_t call_token_ = 0;
  SteadyClock::time_point call_start_{};
  WorkerStats* stats_ = nullptr;
  std::function<void()> done_;
};

double Seconds(SteadyClock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

// --- channels ----------------------------------------------------------------

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> OpenChannels(
    const ConnectOptions& options, int count) {
  if (count < 1) return absl::InvalidArgumentError("--channels must be >= 1");
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  const bool tls = !options.tls_ca.empty() || !options.tls_cert.empty() ||
                   !options.tls_key.empty();
  if (!tls) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    if (options.tls_cert.empty() != options.tls_key.empty()) {
      return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
    }
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty()) {
      absl::StatusOr<std::string> ca = ReadPem("tls_ca", options.tls_ca);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.tls_cert.empty()) {
      absl::StatusOr<std::string> cert = ReadPem("tls_cert", options.tls_cert);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPem("tls_key", options.tls_key);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const absl::Time deadline = absl::Now() + options.connect_timeout;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(kChannelIndexArg, i);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(options.authority, credentials, args);
    if (!channel->WaitForConnected(absl::ToChronoTime(deadline))) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to the authority at ", options.authority,
                       " (channel ", i, ")"));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

// --- create requests ---------------------------------------------------------

v1::CreateTokenRequest MakeCreateRequest(const TokenSpec& spec,
                                         const std::string& plan_id,
                                         std::string name,
                                         std::string request_id) {
  v1::CreateTokenRequest request;
  request.set_plan_id(plan_id);
  request.set_kind(spec.kind);
  request.set_name(std::move(name));
  request.set_expires_in_days(spec.days);
  for (const std::string& scope : spec.scopes) request.add_scopes(scope);
  if (spec.all_resources) {
    request.set_all_resources(true);
  } else {
    for (const std::string& link : spec.links) request.add_resource_links(link);
  }
  request.set_request_id(std::move(request_id));
  return request;
}

std::string NewRunId() { return absl::StrCat("b", RandomBase62(10)); }

// --- seed --------------------------------------------------------------------

SeedResult Seed(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                const SeedOptions& options) {
  const std::string run_id = NewRunId();
  std::atomic<int> next{0};
  std::atomic<int> created{0};
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  SeedResult result;
  absl::Status failure;  // guarded by mu
  FirstErrorLog log("seed");
  std::vector<std::vector<TokenSecret>> made(options.concurrency);
  std::vector<ErrorCounts> errors(options.concurrency);
  std::atomic<int> running{options.concurrency};
  absl::Notification all_done;

  auto work = [&](int w) {
    auto stub = v1::TokenService::NewStub(channels[w % channels.size()]);
    int attempt_seq = 0;
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) break;
      const int i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= options.count) break;
      for (int attempt = 1;; ++attempt) {
        std::string request_id =
            absl::StrCat(run_id, "-", w, "-", ++attempt_seq);
        v1::CreateTokenRequest request = MakeCreateRequest(
            options.spec, options.plan_id,
            absl::StrCat("bench seed ", run_id, " ", i), request_id);
        v1::CreateTokenResponse response;
        grpc::ClientContext ctx;
        ctx.set_deadline(Deadline(options.timeout));
        ctx.AddMetadata("x-pat-actor", options.actor);
        grpc::Status status = stub->CreateToken(&ctx, request, &response);
        if (status.ok() && !response.secret().empty()) {
          made[w].push_back(
              {response.token().id(), std::move(*response.mutable_secret())});
          created.fetch_add(1, std::memory_order_relaxed);
          break;
        }
        Outcome outcome =
            status.ok() ? Failed(kNoSecret, "CreateToken without a secret")
                        : FromStatus(status);
        ++errors[w][outcome.key];
        log.Note(outcome);
        if (status.ok() || !Transient(status.error_code()) ||
            attempt >= options.max_attempts) {
          absl::MutexLock lock(&mu);
          if (failure.ok()) {
            failure = absl::Status(
                status.ok()
                    ? absl::StatusCode::kInternal
                    : static_cast<absl::StatusCode>(status.error_code()),
                absl::StrCat("CreateToken (attempt ", attempt,
                             "): ", outcome.detail));
          }
          stop.store(true, std::memory_order_relaxed);
          break;
        }
      }
    }
    if (running.fetch_sub(1) == 1) all_done.Notify();
  };

  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  threads.reserve(options.concurrency);
  for (int w = 0; w < options.concurrency; ++w) threads.emplace_back(work, w);
  while (!all_done.WaitForNotificationWithTimeout(absl::Seconds(5))) {
    const int n = created.load();
    const double secs = absl::ToDoubleSeconds(absl::Now() - start);
    std::cerr << absl::StrFormat(
        "pat-bench-authority: seed: %d/%d created (%.0f/s)\n", n, options.count,
        secs > 0 ? n / secs : 0.0);
  }
  for (std::thread& t : threads) t.join();
  result.elapsed = absl::Now() - start;

  for (std::vector<TokenSecret>& v : made) {
    std::move(v.begin(), v.end(), std::back_inserter(result.tokens));
  }
  for (const ErrorCounts& e : errors) MergeErrorCounts(e, result.errors);
  absl::MutexLock lock(&mu);
  result.failure = failure;
  return result;
}

// --- load --------------------------------------------------------------------

absl::StatusOr<Rpc> ParseRpc(absl::string_view name) {
  for (Rpc rpc : {Rpc::kValidate, Rpc::kCreate, Rpc::kRefresh, Rpc::kRevoke,
                  Rpc::kGet, Rpc::kBaseline}) {
    if (name == RpcName(rpc)) return rpc;
  }
  return absl::InvalidArgumentError(
      "--rpc must be one of validate, create, refresh, revoke, get, "
      "baseline");
}

absl::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kValidate:
      return "validate";
    case Rpc::kCreate:
      return "create";
    case Rpc::kRefresh:
      return "refresh";
    case Rpc::kRevoke:
      return "revoke";
    case Rpc::kGet:
      return "get";
    case Rpc::kBaseline:
      return "baseline";
  }
  return "unknown";
}

absl::StatusOr<Order> ParseOrder(absl::string_view name) {
  if (name == "sequential") return Order::kSequential;
  if (name == "random") return Order::kRandom;
  return absl::InvalidArgumentError("--order must be sequential or random");
}

absl::string_view OrderName(Order order) {
  return order == Order::kRandom ? "random" : "sequential";
}

absl::StatusOr<LoadResult> RunLoad(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    const LoadOptions& options, const std::vector<TokenSecret>& tokens) {
  if (channels.empty()) return absl::InvalidArgumentError("no channels");
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError("--concurrency must be >= 1");
  }
  if (options.once && options.rpc != Rpc::kValidate) {
    return absl::InvalidArgumentError("--once applies to --rpc=validate only");
  }
  if (options.callback_client && options.rpc != Rpc::kValidate) {
    return absl::InvalidArgumentError(
        "--client=callback applies to --rpc=validate only");
  }
  const bool needs_tokens =
      options.rpc != Rpc::kCreate && options.rpc != Rpc::kBaseline;
  if (needs_tokens && tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rpc=", RpcName(options.rpc), " needs tokens (--secrets)"));
  }
  if (options.rpc != Rpc::kValidate && options.rpc != Rpc::kBaseline &&
      (options.plan_id.empty() || options.actor.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rpc=", RpcName(options.rpc), " needs --plan and --actor"));
  }
  if (!options.once && options.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be positive");
  }

  FirstErrorLog log(RpcName(options.rpc));
  LoadShared shared;
  shared.options = &options;
  shared.tokens = &tokens;
  shared.log = &log;
  shared.run_id = NewRunId();
  if (options.rpc == Rpc::kValidate) {
    shared.digests.reserve(tokens.size());
    for (const TokenSecret& t : tokens) {
      const Digest d = Sha256(t.secret);
      shared.digests.emplace_back(reinterpret_cast<const char*>(d.data()),
                                  d.size());
    }
  }
  if (options.once || options.rpc == Rpc::kRevoke) {
    shared.order.resize(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) shared.order[i] = i;
    if (options.order == Order::kRandom) {
      std::shuffle(shared.order.begin(), shared.order.end(),
                   std::mt19937_64(std::random_device{}()));
    }
  }

  const absl::Duration warmup =
      options.once ? absl::ZeroDuration() : options.warmup;
  const SteadyClock::time_point start = SteadyClock::now();
  shared.measure_from = start + absl::ToChronoNanoseconds(warmup);
  shared.stop_at =
      options.once
          ? SteadyClock::time_point::max()
          : shared.measure_from + absl::ToChronoNanoseconds(options.duration);

  std::vector<WorkerStats> stats(options.concurrency);
  {
    std::vector<std::unique_ptr<LoadWorker>> workers;
    for (int w = 0; w < options.concurrency; ++w) {
      workers.push_back(std::make_unique<LoadWorker>(
          w, shared, channels[w % channels.size()]));
    }
    if (options.callback_client) {
      absl::BlockingCounter chains(options.concurrency);
      for (int w = 0; w < options.concurrency; ++w) {
        workers[w]->RunCallback(stats[w],
                                [&chains] { chains.DecrementCount(); });
      }
      chains.Wait();
    } else {
      std::vector<std::thread> threads;
      threads.reserve(options.concurrency);
      for (int w = 0; w < options.concurrency; ++w) {
        threads.emplace_back(
            [&workers, &stats, w] { workers[w]->Run(stats[w]); });
      }
      for (std::thread& t : threads) t.join();
    }
  }

  LoadResult result;
  result.label = options.label;
  result.rpc = options.rpc;
  result.concurrency = options.concurrency;
  result.channels = static_cast<int>(channels.size());
  result.order = options.order;
  result.once = options.once;
  result.callback_client = options.callback_client;
  result.warmup_s = absl::ToDoubleSeconds(warmup);
  SteadyClock::time_point finish = shared.measure_from;
  std::vector<int64_t> latencies;
  for (WorkerStats& s : stats) {
    result.calls += s.calls;
    result.ok += s.ok;
    MergeErrorCounts(s.errors, result.errors);
    finish = std::max(finish, s.last_done);
    result.exhausted = result.exhausted || s.exhausted;
    latencies.insert(latencies.end(), s.latencies_ns.begin(),
                     s.latencies_ns.end());
    std::vector<int64_t>().swap(s.latencies_ns);
  }
  result.duration_s =
      Seconds(std::min(finish, shared.stop_at) - shared.measure_from);
  result.rps = result.duration_s > 0 ? result.calls / result.duration_s : 0;
  result.latency = SummarizeLatencies(latencies);
  return result;
}

nlohmann::ordered_json LoadResultToJson(const LoadResult& r) {
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (const auto& [key, n] : r.errors) errors[key] = n;
  return nlohmann::ordered_json{
      {"label", r.label},
      {"rpc", RpcName(r.rpc)},
      {"concurrency", r.concurrency},
      {"channels", r.channels},
      {"duration_s", std::round(r.duration_s * 1000) / 1000},
      {"calls", r.calls},
      {"errors", errors},
      {"rps", std::round(r.rps * 10) / 10},
      {"latency_us",
       {{"p50", r.latency.p50},
        {"p90", r.latency.p90},
        {"p99", r.latency.p99},
        {"p999", r.latency.p999},
        {"max", r.latency.max},
        {"mean", r.latency.mean}}},
      {"ok", r.ok},
      {"order", OrderName(r.order)},
      {"once", r.once},
      {"client", r.callback_client ? "callback" : "sync"},
      {"warmup_s", r.warmup_s},
      {"exhausted", r.exhausted},
  };
}

std::string LoadResultSummary(const LoadResult& r) {
  const int64_t errors = TotalErrors(r.errors);
  std::string error_text;
  for (const auto& [key, n] : r.errors) {
    absl::StrAppend(&error_text, error_text.empty() ? " (" : ", ", key, ": ",
                    n);
  }
  if (!error_text.empty()) error_text += ")";
  return absl::StrFormat(
      "%s%s c=%d k=%d%s: %d calls in %.2f s = %.1f rps, %d errors "
      "(%.2f%%)%s\n"
      "  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  "
      "mean %.1f\n",
      RpcName(r.rpc), r.label.empty() ? "" : absl::StrCat(" [", r.label, "]"),
      r.concurrency, r.channels, r.once ? " once" : "", r.calls, r.duration_s,
      r.rps, errors, r.calls > 0 ? 100.0 * errors / r.calls : 0.0, error_text,
      r.latency.p50, r.latency.p90, r.latency.p99, r.latency.p999,
      r.latency.max, r.latency.mean);
}

}  // namespace pat::bench
