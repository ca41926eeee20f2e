#ifndef PAT_SIDECAR_DIRECTORY_CACHE_H_
#define PAT_SIDECAR_DIRECTORY_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/domain.h"
#include "common/policy/policy.h"
#include "sidecar/authority_client.h"
#include "sidecar/metrics.h"
#include "sidecar/single_flight.h"

// The sidecar's copy of the resource directory (who owns what): resource
// (kind, id) -> plan and parent, so that the policy engine can resolve a
// resource's plan and ancestor chain (R13) without a round trip.
//
// Filled only by the watch stream: the snapshot carries the WHOLE directory
// (every resource, roots first) and live events carry every later change
// (upserts replace, deletes remove). Once synced, the copy is therefore
// complete as of the applied revision, and a resource it does not hold does
// not exist (yet) for the sidecar: "unknown" is answered from memory exactly
// like "belongs to another plan", in the same time and with no RPC, so
// response timing cannot tell an id of another plan from an id of nobody
// (the existence oracle of issue #8). A resource created at the authority
// becomes usable through the sidecar when its event is applied, like any
// other directory change.
//
// ResolveRemote() asks the authority's ResolveResource (concurrent calls for
// one resource share one RPC); the authorizer uses it only while the watch
// stream is stale, for every resource alike (known or not), so the two
// cases stay indistinguishable then too. Remote answers are not stored.
//
// Thread-safe.
namespace pat::sidecar {

struct DirectoryCacheOptions {
  // Longest ancestor chain followed (guards against cycles).
  int max_depth = 8;
  // Callbacks queued behind one ResolveResource call.
  size_t max_waiters = 1024;
};

class DirectoryCache final : public policy::ResourceResolver {
 public:
  // What the authority said about one resource: the chain, nullopt when it
  // does not know the resource, or an error when it could not answer.
  using RemoteAnswer = absl::StatusOr<std::optional<policy::ResolvedResource>>;
  using RemoteCallback = absl::AnyInvocable<void(const RemoteAnswer&) &&>;

  // `client` may be null (then ResolveRemote answers UNAVAILABLE).
  // `client` and `metrics` must outlive the cache.
  DirectoryCache(AuthorityClient* client, MetricsRegistry& metrics,
                 DirectoryCacheOptions options = {});

  // policy::ResourceResolver, from memory only: nullopt when the copy does
  // not hold the resource (or its chain is broken).
  std::optional<policy::ResolvedResource> Resolve(
      ResourceKind kind, absl::string_view id) const override;

  // Asks the authority. `done` runs exactly once, possibly inline, never
  // under a lock of the cache.
  void ResolveRemote(ResourceKind kind, absl::string_view id,
                     RemoteCallback done);

  // --- Watch stream ---
  void Upsert(const Resource& resource);
  void Delete(ResourceKind kind, absl::string_view id);
  // See GrantCache::BeginSnapshot / FinishSnapshot.
  void BeginSnapshot();
  void FinishSnapshot();

  size_t size() const;

 private:
  struct KeyView {
    ResourceKind kind;
    absl::string_view id;
  };
  struct Key {
    ResourceKind kind;
    std::string id;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const KeyView& k) const {
      return absl::HashOf(static_cast<int>(k.kind), k.id);
    }
    size_t operator()(const Key& k) const {
      return (*this)(KeyView{k.kind, k.id});
    }
  };
  struct KeyEq {
    using is_transparent = void;
    static KeyView View(const KeyView& k) { return k; }
    static KeyView View(const Key& k) { return KeyView{k.kind, k.id}; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const KeyView x = View(a);
      const KeyView y = View(b);
      return x.kind == y.kind && x.id == y.id;
    }
  };
  struct Node {
    std::string plan_id;
    ResourceKind parent_kind = ResourceKind::kUnspecified;
    std::string parent_id;
    uint64_t generation = 0;
  };

  // From memory only: the chain, or nullopt when a link is missing.
  std::optional<policy::ResolvedResource> FromMemory(ResourceKind kind,
                                                     absl::string_view id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  AuthorityClient* const client_;
  const DirectoryCacheOptions options_;
  Gauge& size_gauge_;
  Counter& remote_lookups_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Node, KeyHash, KeyEq> nodes_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;

  AsyncSingleFlight<std::string, RemoteAnswer> flights_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_DIRECTORY_CACHE_H_
