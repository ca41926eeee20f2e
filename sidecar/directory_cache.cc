#include "sidecar/directory_cache.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace pat::sidecar {
namespace {

DirectoryCache::RemoteAnswer FromChain(absl::StatusOr<ResolvedChain> chain,
                                       int max_depth) {
  if (absl::IsNotFound(chain.status())) {
    return std::optional<policy::ResolvedResource>();
  }
  if (!chain.ok()) return chain.status();
  policy::ResolvedResource resolved;
  resolved.plan_id = chain->plan_id;
  for (size_t i = 1;
       i < chain->chain.size() && static_cast<int>(i) <= max_depth; ++i) {
    resolved.ancestors.emplace_back(chain->chain[i].kind,
                                    std::move(chain->chain[i].id));
  }
  return std::optional<policy::ResolvedResource>(std::move(resolved));
}

}  // namespace

DirectoryCache::DirectoryCache(AuthorityClient* client,
                               MetricsRegistry& metrics,
                               DirectoryCacheOptions options)
    : client_(client),
      options_(options),
      size_gauge_(metrics.GetGauge(
          "pat_sidecar_directory_size",
          "Resources held in the sidecar's copy of the resource directory.")),
      remote_lookups_(metrics.GetCounter(
          "pat_sidecar_directory_remote_lookups_total",
          "Resources resolved with the authority (only while the watch "
          "stream is stale).")),
      flights_(options.max_waiters) {}

std::optional<policy::ResolvedResource> DirectoryCache::FromMemory(
    ResourceKind kind, absl::string_view id) const {
  auto it = nodes_.find(KeyView{kind, id});
  if (it == nodes_.end()) return std::nullopt;
  policy::ResolvedResource resolved;
  resolved.plan_id = it->second.plan_id;
  resolved.ancestors.reserve(4);  // file -> project -> team -> workspace
  const Node* node = &it->second;
  for (int depth = 0; depth < options_.max_depth; ++depth) {
    if (node->parent_kind == ResourceKind::kUnspecified ||
        node->parent_id.empty()) {
      return resolved;
    }
    auto parent = nodes_.find(KeyView{node->parent_kind, node->parent_id});
    if (parent == nodes_.end()) return std::nullopt;  // broken chain
    resolved.ancestors.emplace_back(node->parent_kind, node->parent_id);
    node = &parent->second;
  }
  // Deeper than any real directory: treat the chain as broken.
  return std::nullopt;
}

std::optional<policy::ResolvedResource> DirectoryCache::Resolve(
    ResourceKind kind, absl::string_view id) const {
  if (kind == ResourceKind::kUnspecified || id.empty()) return std::nullopt;
  absl::ReaderMutexLock lock(&mu_);
  return FromMemory(kind, id);
}

void DirectoryCache::ResolveRemote(ResourceKind kind, absl::string_view id,
                                   RemoteCallback done) {
  if (kind == ResourceKind::kUnspecified || id.empty()) {
    std::move(done)(std::optional<policy::ResolvedResource>());
    return;
  }
  if (client_ == nullptr) {
    std::move(done)(absl::UnavailableError("no authority client"));
    return;
  }
  std::string key = absl::StrCat(static_cast<int>(kind), ":", id);
  const auto joined = flights_.Join(key, done, [&] {
    remote_lookups_.Inc();
    client_->ResolveResource(
        kind, id, [this, key](absl::StatusOr<ResolvedChain> chain) {
          flights_.Complete(key,
                            FromChain(std::move(chain), options_.max_depth));
        });
  });
  if (joined == decltype(flights_)::Joined::kFull) {
    std::move(done)(absl::UnavailableError("too many lookups pending"));
  }
}

void DirectoryCache::Upsert(const Resource& resource) {
  if (resource.kind == ResourceKind::kUnspecified || resource.id.empty()) {
    return;
  }
  absl::MutexLock lock(&mu_);
  Node node;
  node.plan_id = resource.plan_id;
  node.parent_kind = resource.parent_kind;
  node.parent_id = resource.parent_id;
  node.generation = generation_;
  auto it = nodes_.find(KeyView{resource.kind, resource.id});
  if (it == nodes_.end()) {
    nodes_.emplace(Key{resource.kind, resource.id}, std::move(node));
  } else {
    it->second = std::move(node);
  }
  size_gauge_.Set(static_cast<int64_t>(nodes_.size()));
}

void DirectoryCache::Delete(ResourceKind kind, absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(KeyView{kind, id});
  if (it != nodes_.end()) nodes_.erase(it);
  size_gauge_.Set(static_cast<int64_t>(nodes_.size()));
}

void DirectoryCache::BeginSnapshot() {
  absl::MutexLock lock(&mu_);
  ++generation_;
}

void DirectoryCache::FinishSnapshot() {
  absl::MutexLock lock(&mu_);
  const uint64_t current = generation_;
  absl::erase_if(nodes_, [current](const auto& entry) {
    return entry.second.generation < current;
  });
  size_gauge_.Set(static_cast<int64_t>(nodes_.size()));
}

size_t DirectoryCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return nodes_.size();
}

}  // namespace pat::sidecar
