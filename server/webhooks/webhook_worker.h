#ifndef PAT_SERVER_WEBHOOKS_WEBHOOK_WORKER_H_
#define PAT_SERVER_WEBHOOKS_WEBHOOK_WORKER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "server/webhooks/http_sender.h"
#include "server/webhooks/webhook_options.h"
#include "server/webhooks/webhook_store.h"

namespace pat::webhooks {

// One replica's share of lifecycle notifications. Every poll it
//   1. records the outcomes of finished deliveries (delivered, retry at
//      now + backoff, or dead after max_attempts),
//   2. dispatches the outbox (audit events -> events + deliveries),
//   3. runs the expiry scheduler if it holds (or takes) the lease,
//   4. claims due deliveries, at most `workers` in flight, and sends them
//      signed (X-Pat-Signature) through the HttpSender.
// Every replica runs all four; the store makes them safe to share. Delivery
// is at least once: an attempt whose outcome was not recorded (crash,
// Stop) is retried once its claim expires. Logic time is the Clock; only
// the waits between polls are real time.
class WebhookWorker {
 public:
  WebhookWorker(WebhookStore& store, const Clock& clock,
                WebhookOptions options);
  ~WebhookWorker();  // Stop()

  void Start();
  // Stops polling, waits up to the request deadline for deliveries in
  // flight, records their outcomes. Idempotent.
  void Stop();

  const std::string& replica_id() const { return replica_id_; }

 private:
  struct Finished {
    std::string subscription_id;
    int64_t event_id = 0;
    int attempts = 0;
    SendResult result;
  };

  void Loop();
  void Poll();
  void RecordFinished();
  void Send(DeliveryJob job);
  void Log(absl::string_view what, const absl::Status& status);

  WebhookStore& store_;
  const Clock& clock_;
  const WebhookOptions options_;
  const std::string replica_id_;
  std::atomic<int64_t> log_count_{0};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<std::string> in_flight_keys_ ABSL_GUARDED_BY(mu_);
  std::vector<Finished> finished_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  // Last: destroyed first, while the members its callbacks touch live.
  HttpSender sender_;
};

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_WEBHOOK_WORKER_H_
