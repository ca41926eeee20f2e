#ifndef PAT_SIDECAR_DIRECTORY_CACHE_H_
#define PAT_SIDECAR_DIRECTORY_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/domain.h"
#include "common/policy/policy.h"
#include "sidecar/authority_client.h"
#include "sidecar/metrics.h"
#include "sidecar/single_flight.h"

// The sidecar's copy of the resource directory (who owns what): resource
// (kind, id) -> plan and parent, so that the policy engine can resolve a
// resource's plan and ancestor chain (R13) without a round trip.
//
// Filled by the watch stream (resource events of the snapshot and live
// ones: upserts replace, deletes remove) and, for a resource it does not
// know, by ResolveResource (concurrent misses for one resource share one
// call). Resources the authority does not know are remembered for
// `negative_ttl` (at most `max_negative`, oldest evicted first); at most
// `max_fetched` resources learned by ResolveResource are kept (beyond that
// answers are used but not stored). A resource event forgets a remembered
// "unknown" at once.
//
// Thread-safe.
namespace pat::sidecar {

struct DirectoryCacheOptions {
  absl::Duration negative_ttl = absl::Seconds(5);
  size_t max_negative = 10000;
  size_t max_fetched = 100000;
  // Longest ancestor chain followed (guards against cycles).
  int max_depth = 8;
};

class DirectoryCache final : public policy::ResourceResolver {
 public:
  // `client` may be null (then misses are unknown). `client`, `clock` and
  // `metrics` must outlive the cache.
  DirectoryCache(AuthorityClient* client, const Clock& clock,
                 MetricsRegistry& metrics, DirectoryCacheOptions options = {});

  // policy::ResourceResolver: nullopt when unknown or when the authority
  // could not be asked.
  std::optional<policy::ResolvedResource> Resolve(
      ResourceKind kind, absl::string_view id) const override;

  // Like Resolve, but tells "unknown" (OK, nullopt) from "the authority
  // could not answer" (an error status).
  absl::StatusOr<std::optional<policy::ResolvedResource>> Lookup(
      ResourceKind kind, absl::string_view id) const;

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
    bool fetched = false;  // learned by ResolveResource
  };

  // From memory only: the chain, or nullopt when a link is missing.
  std::optional<policy::ResolvedResource> FromMemory(ResourceKind kind,
                                                     absl::string_view id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool RecentlyUnknown(ResourceKind kind, absl::string_view id,
                       absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<policy::ResolvedResource>> Fetch(
      ResourceKind kind, absl::string_view id) const;
  // Const because Resolve() (const per the interface) fills the cache; the
  // state it writes is mutable and guarded by mu_.
  void Put(const Resource& resource, bool fetched) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(ResourceKind kind, absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  AuthorityClient* const client_;
  const Clock& clock_;
  const DirectoryCacheOptions options_;
  Gauge& size_gauge_;

  mutable absl::Mutex mu_;
  // Mutable: Resolve() (const, per the interface) fills the cache on misses.
  mutable absl::flat_hash_map<Key, Node, KeyHash, KeyEq> nodes_
      ABSL_GUARDED_BY(mu_);
  mutable size_t fetched_count_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::flat_hash_map<Key, absl::Time, KeyHash, KeyEq> unknown_
      ABSL_GUARDED_BY(mu_);
  mutable std::deque<std::pair<Key, absl::Time>> unknown_order_
      ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;

  using FetchResult = absl::StatusOr<std::optional<policy::ResolvedResource>>;
  mutable SingleFlight<std::string, FetchResult> flights_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_DIRECTORY_CACHE_H_
