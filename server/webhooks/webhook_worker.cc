#include "server/webhooks/webhook_worker.h"

#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "server/webhooks/signature.h"
#include "server/webhooks/webhook_rules.h"

namespace pat::webhooks {
namespace {

constexpr char kSchedulerLease[] = "expiry-scheduler";
constexpr int kDispatchBatch = 200;
constexpr int kDispatchBatchesPerPoll = 5;
constexpr int kScheduleBatch = 500;
constexpr int64_t kLogEvery = 100;

}  // namespace

WebhookWorker::WebhookWorker(WebhookStore& store, const Clock& clock,
                             WebhookOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      replica_id_(absl::StrCat("replica-", RandomBase62(12))) {}

WebhookWorker::~WebhookWorker() { Stop(); }

void WebhookWorker::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void WebhookWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  thread_.join();
}

void WebhookWorker::Log(absl::string_view what, const absl::Status& status) {
  // Bounded: the first failure, then one in kLogEvery (a database outage
  // would otherwise log several lines per poll).
  if (log_count_.fetch_add(1, std::memory_order_relaxed) % kLogEvery != 0) {
    return;
  }
  std::fprintf(
      stderr, "{\"level\":\"warn\",\"msg\":\"webhooks: %s\",\"code\":\"%s\"}\n",
      std::string(what).c_str(),
      absl::StatusCodeToString(status.code()).c_str());
}

void WebhookWorker::Loop() {
  for (;;) {
    Poll();
    absl::MutexLock lock(&mu_);
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || !finished_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&wake), options_.poll_interval);
    if (stopping_) break;
  }
  {
    absl::MutexLock lock(&mu_);
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return in_flight_ == 0;
    };
    mu_.AwaitWithTimeout(absl::Condition(&drained),
                         options_.request_deadline + absl::Seconds(1));
  }
  RecordFinished();
}

void WebhookWorker::RecordFinished() {
  std::vector<Finished> done;
  {
    absl::MutexLock lock(&mu_);
    done.swap(finished_);
  }
  // Jitter only: not security relevant.
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const Finished& f : done) {
    const absl::Time now = clock_.Now();
    absl::Status s;
    if (f.result.ok) {
      s = store_.MarkDelivered(f.subscription_id, f.event_id, now);
    } else {
      std::optional<absl::Time> retry_at;
      if (f.attempts < options_.max_attempts) {
        retry_at = now + RetryBackoff(f.attempts, options_.backoff_base,
                                      options_.backoff_max, unit(gen));
      }
      s = store_.MarkFailed(f.subscription_id, f.event_id, f.result.error, now,
                            retry_at);
    }
    if (!s.ok()) Log("recording a delivery failed", s);
  }
}

void WebhookWorker::Poll() {
  RecordFinished();
  for (int i = 0; i < kDispatchBatchesPerPoll; ++i) {
    absl::StatusOr<int> n = store_.DispatchOutbox(kDispatchBatch, clock_.Now());
    if (!n.ok()) Log("dispatching the outbox failed", n.status());
    if (!n.ok() || *n < kDispatchBatch) break;
  }
  absl::StatusOr<bool> leader = store_.TryAcquireLease(
      kSchedulerLease, replica_id_, clock_.Now(), options_.lease_ttl);
  if (!leader.ok()) Log("the scheduler lease failed", leader.status());
  if (leader.ok() && *leader) {
    absl::StatusOr<int> n =
        store_.EmitScheduled(clock_.Now(), options_.windows, kScheduleBatch);
    if (!n.ok()) Log("the expiry scheduler failed", n.status());
  }
  int free = 0;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    free = options_.workers - in_flight_;
  }
  if (free <= 0) return;
  // The claim outlives the exchange and the recording of its outcome.
  const absl::Duration claim_ttl =
      2 * options_.request_deadline + 2 * options_.poll_interval;
  absl::StatusOr<std::vector<DeliveryJob>> jobs =
      store_.ClaimDue(clock_.Now(), free, claim_ttl);
  if (!jobs.ok()) {
    Log("claiming deliveries failed", jobs.status());
    return;
  }
  for (DeliveryJob& job : *jobs) Send(std::move(job));
}

void WebhookWorker::Send(DeliveryJob job) {
  Finished finished{job.subscription_id, job.event_id, job.attempts, {}};
  absl::StatusOr<Target> target = ParseTarget(job.url);
  if (!target.ok()) {
    finished.result.error = "bad url";
    absl::MutexLock lock(&mu_);
    finished_.push_back(std::move(finished));
    return;
  }
  HttpRequest request;
  request.target = *std::move(target);
  request.body = PayloadJson(job);
  request.headers = {
      {std::string(kSignatureHeader),
       SignatureHeader(job.secret, clock_.Now(), request.body)},
      {"X-Pat-Event-Type", job.event_type},
      {"X-Pat-Idempotency-Key",
       IdempotencyKey(job.subscription_id, job.event_id)},
      {"X-Pat-Delivery-Attempt", absl::StrCat(job.attempts)},
  };
  std::string key = IdempotencyKey(job.subscription_id, job.event_id);
  {
    absl::MutexLock lock(&mu_);
    // Claimed again while this replica still sends it (its claim expired,
    // e.g. after a clock step): the exchange in flight records the outcome.
    if (!in_flight_keys_.insert(key).second) return;
    ++in_flight_;
  }
  sender_.Post(std::move(request), options_.request_deadline,
               [this, key = std::move(key),
                finished = std::move(finished)](SendResult r) mutable {
                 finished.result = std::move(r);
                 absl::MutexLock lock(&mu_);
                 --in_flight_;
                 in_flight_keys_.erase(key);
                 finished_.push_back(std::move(finished));
               });
}

}  // namespace pat::webhooks
