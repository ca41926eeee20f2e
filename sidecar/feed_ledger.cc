#include "sidecar/feed_ledger.h"

#include <algorithm>
#include <cstring>

#include "absl/hash/hash.h"

namespace pat::sidecar {

FeedLedger::FeedLedger(size_t capacity)
    : capacity_(std::max<size_t>(1, capacity)) {}

uint64_t FeedLedger::TokenKey(absl::string_view token_id) {
  return absl::HashOf(token_id);
}

uint64_t FeedLedger::DigestKey(const Digest& digest) {
  uint64_t key;
  std::memcpy(&key, digest.data(), sizeof(key));
  return key;
}

FeedLedger::Verdict FeedLedger::Judge(int64_t answer_revision,
                                      uint64_t token_key,
                                      uint64_t digest_key) const {
  // Revision 0: the authority could not say what the answer reflects.
  if (answer_revision <= 0) return Verdict::kAskAgain;
  if (!continuous_) {
    return answer_revision >= applied_ ? Verdict::kUseOnly : Verdict::kAskAgain;
  }
  if (answer_revision >= applied_) return Verdict::kKeep;
  if (answer_revision < floor_) return Verdict::kAskAgain;
  for (const uint64_t key : {token_key, digest_key}) {
    if (key == 0) continue;
    auto it = last_.find(key);
    if (it != last_.end() && it->second > answer_revision) {
      return Verdict::kAskAgain;
    }
  }
  return Verdict::kKeep;
}

void FeedLedger::Break() {
  continuous_ = false;
  last_.clear();
  order_.clear();
}

void FeedLedger::Resume(int64_t revision) {
  Break();
  continuous_ = true;
  applied_ = revision;
  floor_ = revision;
}

void FeedLedger::Record(int64_t revision, absl::Span<const uint64_t> keys) {
  if (!continuous_ || revision <= applied_) return;
  applied_ = revision;
  for (const uint64_t key : keys) {
    last_[key] = revision;
    order_.emplace_back(revision, key);
  }
  while (order_.size() > capacity_) {
    const auto [old_revision, old_key] = order_.front();
    order_.pop_front();
    auto it = last_.find(old_key);
    if (it != last_.end() && it->second == old_revision) last_.erase(it);
    // Part of the events at old_revision is forgotten now.
    floor_ = std::max(floor_, old_revision);
  }
}

}  // namespace pat::sidecar
