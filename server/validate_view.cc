#include "server/validate_view.h"

#include <algorithm>
#include <utility>

namespace pat {

ValidateView::ValidateView(ValidateViewOptions options, int64_t applied)
    : options_(options), applied_(applied) {}

std::optional<ValidateView::Entry> ValidateView::Find(
    const Digest& digest) const {
  absl::MutexLock lock(&mu_);
  if (auto it = known_.find(digest); it != known_.end()) {
    return Entry{it->second, applied_};
  }
  if (unknown_.contains(digest)) return Entry{nullptr, applied_};
  return std::nullopt;
}

ValidateView::InsertResult ValidateView::Insert(
    const Digest& digest, const std::optional<SecretLookup>& lookup,
    int64_t head) {
  if (lookup.has_value() &&
      lookup->token.resources.size() > options_.max_resources_per_entry) {
    return InsertResult::kTooLarge;
  }
  // Built outside the lock (copies the token).
  std::shared_ptr<const SecretLookup> stored;
  if (lookup.has_value()) stored = std::make_shared<SecretLookup>(*lookup);
  absl::MutexLock lock(&mu_);
  if (head < applied_) return InsertResult::kStale;
  if (stored == nullptr) {
    if (known_.contains(digest)) return InsertResult::kStored;
    if (unknown_.size() >= options_.max_unknown) {
      unknown_.clear();
      ++evictions_;
    }
    unknown_.insert(digest);
    return InsertResult::kStored;
  }
  unknown_.erase(digest);
  if (known_.size() >= options_.max_entries && !known_.contains(digest)) {
    known_.clear();
    by_token_.clear();
    ++evictions_;
  }
  std::vector<Digest>& digests = by_token_[stored->token.id];
  if (std::find(digests.begin(), digests.end(), digest) == digests.end()) {
    digests.push_back(digest);
  }
  known_[digest] = std::move(stored);
  return InsertResult::kStored;
}

void ValidateView::EraseDigest(const Digest& digest) {
  unknown_.erase(digest);
  auto it = known_.find(digest);
  if (it == known_.end()) return;
  auto token = by_token_.find(it->second->token.id);
  if (token != by_token_.end()) {
    std::vector<Digest>& digests = token->second;
    digests.erase(std::remove(digests.begin(), digests.end(), digest),
                  digests.end());
    if (digests.empty()) by_token_.erase(token);
  }
  known_.erase(it);
}

void ValidateView::ApplyGrant(int64_t revision, absl::string_view token_id,
                              absl::Span<const Digest> digests) {
  absl::MutexLock lock(&mu_);
  if (revision <= applied_) return;
  applied_ = revision;
  if (auto token = by_token_.find(token_id); token != by_token_.end()) {
    for (const Digest& digest : token->second) known_.erase(digest);
    by_token_.erase(token);
  }
  for (const Digest& digest : digests) EraseDigest(digest);
}

void ValidateView::ApplyOther(int64_t revision) {
  absl::MutexLock lock(&mu_);
  applied_ = std::max(applied_, revision);
}

void ValidateView::ClearAll() {
  known_.clear();
  by_token_.clear();
  unknown_.clear();
}

void ValidateView::Reset(int64_t revision) {
  absl::MutexLock lock(&mu_);
  ClearAll();
  applied_ = revision;
}

int64_t ValidateView::applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

size_t ValidateView::entries() const {
  absl::MutexLock lock(&mu_);
  return known_.size();
}

size_t ValidateView::unknown_entries() const {
  absl::MutexLock lock(&mu_);
  return unknown_.size();
}

int64_t ValidateView::evictions() const {
  absl::MutexLock lock(&mu_);
  return evictions_;
}

}  // namespace pat
