#ifndef PAT_TESTS_SUPPORT_FAULT_INJECTING_TOKEN_STORE_H_
#define PAT_TESTS_SUPPORT_FAULT_INJECTING_TOKEN_STORE_H_

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/support/forwarding_token_store.h"

namespace pat::testing {

// A TokenStore decorator in the manner of Vault's physical ErrorInjector and
// LatencyInjector: each call is delayed by `latency` ± `jitter` (a fraction
// of it), and fails with probability `failure_rate`, UNAVAILABLE, in one of
// two ways chosen evenly:
//   before: the call is not forwarded (nothing happened);
//   after:  the call is forwarded and its result replaced by UNAVAILABLE
//           "outcome unknown" (it happened; the reply was lost).
// Counters tell a test which writes took effect although they failed.
class FaultInjectingTokenStore final : public ForwardingTokenStore {
 public:
  struct Options {
    double failure_rate = 0.0;
    absl::Duration latency = absl::ZeroDuration();
    double jitter = 0.0;  // latency * [1 - jitter, 1 + jitter]
  };

  FaultInjectingTokenStore(TokenStore& base, Options options)
      : ForwardingTokenStore(base), options_(options) {}

  void set_failure_rate(double rate) {
    absl::MutexLock lock(&mu_);
    options_.failure_rate = rate;
  }

  // Writes that took effect and were reported failed ("after" faults).
  int creates_applied_but_failed() const { return creates_after_.load(); }
  int mutations_applied_but_failed() const { return mutations_after_.load(); }
  int injected() const { return injected_.load(); }

  absl::Status UpsertPlan(const Plan& plan, absl::Time now,
                          const PlanSweep& sweep) override {
    return Run<bool>("upsert plan", nullptr,
                     [&]() -> absl::StatusOr<bool> {
                       absl::Status s = base().UpsertPlan(plan, now, sweep);
                       if (!s.ok()) return s;
                       return true;
                     })
        .status();
  }
  absl::StatusOr<Plan> GetPlan(const std::string& plan_id) override {
    return Run<Plan>("get plan", nullptr,
                     [&] { return base().GetPlan(plan_id); });
  }
  absl::StatusOr<Resource> GetResource(ResourceKind kind,
                                       const std::string& id) override {
    return Run<Resource>("get resource", nullptr,
                         [&] { return base().GetResource(kind, id); });
  }
  absl::StatusOr<CreateOutcome> CreateToken(const NewToken& token,
                                            const IdempotencyKey& key,
                                            const PlanCheckFn& check) override {
    return Run<CreateOutcome>("create token", &creates_after_, [&] {
      return base().CreateToken(token, key, check);
    });
  }
  absl::StatusOr<Token> GetToken(const std::string& plan_id,
                                 const std::string& token_id) override {
    return Run<Token>("get token", nullptr,
                      [&] { return base().GetToken(plan_id, token_id); });
  }
  absl::StatusOr<MutationOutcome> MutateToken(
      const std::string& plan_id, const std::string& token_id,
      const std::string& actor, absl::Time now, const IdempotencyKey& key,
      const PlanCheckFn& check, const MutationFn& fn) override {
    return Run<MutationOutcome>("change token", &mutations_after_, [&] {
      return base().MutateToken(plan_id, token_id, actor, now, key, check, fn);
    });
  }

 private:
  enum class Fault { kNone, kBefore, kAfter };

  Fault Roll(absl::Duration* delay) {
    absl::MutexLock lock(&mu_);
    *delay = options_.latency;
    if (options_.latency > absl::ZeroDuration() && options_.jitter > 0) {
      *delay = options_.latency *
               absl::Uniform(gen_, 1 - options_.jitter, 1 + options_.jitter);
    }
    if (!absl::Bernoulli(gen_, options_.failure_rate)) return Fault::kNone;
    return absl::Bernoulli(gen_, 0.5) ? Fault::kBefore : Fault::kAfter;
  }

  template <typename T, typename Fn>
  absl::StatusOr<T> Run(absl::string_view op, std::atomic<int>* applied,
                        Fn&& fn) {
    absl::Duration delay;
    const Fault fault = Roll(&delay);
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    if (fault == Fault::kBefore) {
      ++injected_;
      return absl::UnavailableError(absl::StrCat(op, ": injected fault"));
    }
    absl::StatusOr<T> result = fn();
    if (fault == Fault::kAfter) {
      ++injected_;
      if (result.ok() && applied != nullptr) ++*applied;
      return absl::UnavailableError(
          absl::StrCat(op, ": injected fault; outcome unknown"));
    }
    return result;
  }

  absl::Mutex mu_;
  Options options_ ABSL_GUARDED_BY(mu_);
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> creates_after_{0};
  std::atomic<int> mutations_after_{0};
  std::atomic<int> injected_{0};
};

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_FAULT_INJECTING_TOKEN_STORE_H_
