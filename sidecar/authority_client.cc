#include "sidecar/authority_client.h"

#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"

namespace pat::sidecar {
namespace {

// Runs `start` with a callback and waits for that callback's value.
template <typename T, typename Start>
absl::StatusOr<T> Wait(Start start) {
  absl::Notification done;
  std::optional<absl::StatusOr<T>> value;
  start([&](absl::StatusOr<T> v) {
    value.emplace(std::move(v));
    done.Notify();
  });
  done.WaitForNotification();
  return *std::move(value);
}

}  // namespace

absl::StatusOr<ValidateResult> ValidateTokenSync(AuthorityClient& client,
                                                 const Digest& digest) {
  return Wait<ValidateResult>([&](ValidateCallback done) {
    client.ValidateToken(digest, std::move(done));
  });
}

absl::StatusOr<ResolvedChain> ResolveResourceSync(AuthorityClient& client,
                                                  ResourceKind kind,
                                                  absl::string_view id) {
  return Wait<ResolvedChain>([&](ResolveCallback done) {
    client.ResolveResource(kind, id, std::move(done));
  });
}

}  // namespace pat::sidecar
