#include "sidecar/directory_cache.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pat::sidecar {

DirectoryCache::DirectoryCache(AuthorityClient* client, const Clock& clock,
                               MetricsRegistry& metrics,
                               DirectoryCacheOptions options)
    : client_(client),
      clock_(clock),
      options_(options),
      size_gauge_(metrics.GetGauge(
          "pat_sidecar_directory_size",
          "Resources held in the sidecar's copy of the resource directory.")) {}

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
    if (parent == nodes_.end()) return std::nullopt;  // incomplete: ask
    resolved.ancestors.emplace_back(node->parent_kind, node->parent_id);
    node = &parent->second;
  }
  // Deeper than any real directory: treat the chain as broken.
  return std::nullopt;
}

bool DirectoryCache::RecentlyUnknown(ResourceKind kind, absl::string_view id,
                                     absl::Time now) const {
  auto it = unknown_.find(KeyView{kind, id});
  return it != unknown_.end() && now < it->second;
}

std::optional<policy::ResolvedResource> DirectoryCache::Resolve(
    ResourceKind kind, absl::string_view id) const {
  absl::StatusOr<std::optional<policy::ResolvedResource>> result =
      Lookup(kind, id);
  if (!result.ok()) return std::nullopt;
  return *std::move(result);
}

absl::StatusOr<std::optional<policy::ResolvedResource>> DirectoryCache::Lookup(
    ResourceKind kind, absl::string_view id) const {
  if (kind == ResourceKind::kUnspecified || id.empty()) return std::nullopt;
  {
    absl::ReaderMutexLock lock(&mu_);
    std::optional<policy::ResolvedResource> resolved = FromMemory(kind, id);
    if (resolved.has_value()) return resolved;
    if (RecentlyUnknown(kind, id, clock_.Now())) return std::nullopt;
  }
  if (client_ == nullptr) return std::nullopt;
  const std::string flight_key = absl::StrCat(static_cast<int>(kind), ":", id);
  return flights_.Do(flight_key, [&] { return Fetch(kind, id); });
}

absl::StatusOr<std::optional<policy::ResolvedResource>> DirectoryCache::Fetch(
    ResourceKind kind, absl::string_view id) const {
  absl::StatusOr<ResolvedChain> chain = client_->ResolveResource(kind, id);
  const absl::Time now = clock_.Now();
  if (absl::IsNotFound(chain.status())) {
    absl::MutexLock lock(&mu_);
    Key key{kind, std::string(id)};
    unknown_.insert_or_assign(key, now + options_.negative_ttl);
    unknown_order_.emplace_back(std::move(key), now + options_.negative_ttl);
    while (!unknown_order_.empty()) {
      const auto& [front_key, front_until] = unknown_order_.front();
      auto front = unknown_.find(front_key);
      const bool live = front != unknown_.end() && front->second == front_until;
      if (live && front_until > now &&
          unknown_.size() <= options_.max_negative) {
        break;
      }
      if (live) unknown_.erase(front);
      unknown_order_.pop_front();
    }
    if (unknown_order_.size() > 2 * options_.max_negative + 64) {
      std::deque<std::pair<Key, absl::Time>> kept;
      for (auto& record : unknown_order_) {
        auto entry = unknown_.find(record.first);
        if (entry != unknown_.end() && entry->second == record.second) {
          kept.push_back(std::move(record));
        }
      }
      unknown_order_.swap(kept);
    }
    return std::nullopt;
  }
  if (!chain.ok()) return chain.status();

  policy::ResolvedResource resolved;
  resolved.plan_id = chain->plan_id;
  for (size_t i = 1;
       i < chain->chain.size() && static_cast<int>(i) <= options_.max_depth;
       ++i) {
    resolved.ancestors.emplace_back(chain->chain[i].kind, chain->chain[i].id);
  }
  {
    absl::MutexLock lock(&mu_);
    for (const Resource& resource : chain->chain) {
      if (fetched_count_ >= options_.max_fetched) break;
      // Never overwrite what the watch stream wrote (it is the newer truth).
      if (nodes_.contains(KeyView{resource.kind, resource.id})) continue;
      Put(resource, /*fetched=*/true);
    }
    size_gauge_.Set(static_cast<int64_t>(nodes_.size()));
  }
  return resolved;
}

void DirectoryCache::Put(const Resource& resource, bool fetched) const {
  unknown_.erase(KeyView{resource.kind, resource.id});
  Node node;
  node.plan_id = resource.plan_id;
  node.parent_kind = resource.parent_kind;
  node.parent_id = resource.parent_id;
  node.generation = generation_;
  node.fetched = fetched;
  auto it = nodes_.find(KeyView{resource.kind, resource.id});
  if (it == nodes_.end()) {
    nodes_.emplace(Key{resource.kind, resource.id}, std::move(node));
  } else {
    if (it->second.fetched && fetched_count_ > 0) --fetched_count_;
    it->second = std::move(node);
  }
  if (fetched) ++fetched_count_;
}

void DirectoryCache::Forget(ResourceKind kind, absl::string_view id) {
  auto it = nodes_.find(KeyView{kind, id});
  if (it == nodes_.end()) return;
  if (it->second.fetched && fetched_count_ > 0) --fetched_count_;
  nodes_.erase(it);
}

void DirectoryCache::Upsert(const Resource& resource) {
  if (resource.kind == ResourceKind::kUnspecified || resource.id.empty()) {
    return;
  }
  absl::MutexLock lock(&mu_);
  Put(resource, /*fetched=*/false);
  size_gauge_.Set(static_cast<int64_t>(nodes_.size()));
}

void DirectoryCache::Delete(ResourceKind kind, absl::string_view id) {
  absl::MutexLock lock(&mu_);
  Forget(kind, id);
  size_gauge_.Set(static_cast<int64_t>(nodes_.size()));
}

void DirectoryCache::BeginSnapshot() {
  absl::MutexLock lock(&mu_);
  ++generation_;
}

void DirectoryCache::FinishSnapshot() {
  absl::MutexLock lock(&mu_);
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (it->second.generation < generation_) {
      if (it->second.fetched && fetched_count_ > 0) --fetched_count_;
      nodes_.erase(it++);
    } else {
      ++it;
    }
  }
  size_gauge_.Set(static_cast<int64_t>(nodes_.size()));
}

size_t DirectoryCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return nodes_.size();
}

}  // namespace pat::sidecar
