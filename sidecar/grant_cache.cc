#include "sidecar/grant_cache.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "sidecar/grant.h"

namespace pat::sidecar {

size_t DigestHash::operator()(const Digest& d) const {
  // Digests are SHA-256 outputs, but the secrets behind unknown digests are
  // chosen by clients: mix with absl's per-process seed rather than use raw
  // bytes, so crafted collisions cannot be precomputed.
  uint64_t a;
  uint64_t b;
  std::memcpy(&a, d.data(), sizeof(a));
  std::memcpy(&b, d.data() + 8, sizeof(b));
  return absl::HashOf(a, b);
}

GrantCache::GrantCache(const Clock& clock, MetricsRegistry& metrics,
                       GrantCacheOptions options)
    : clock_(clock),
      options_(options),
      max_negative_per_shard_(
          std::max<size_t>(1, options.max_negative / kShards)),
      hits_(metrics.GetCounter(
          "pat_sidecar_cache_hits_total",
          "Grant cache lookups answered from memory (grants and recently "
          "unknown digests).")),
      misses_(metrics.GetCounter(
          "pat_sidecar_cache_misses_total",
          "Grant cache lookups that had to ask the authority.")),
      size_gauge_(metrics.GetGauge("pat_sidecar_cache_size",
                                   "Secret digests held in the grant cache.")),
      negative_gauge_(metrics.GetGauge(
          "pat_sidecar_cache_unknown_size",
          "Unknown secret digests remembered by the grant cache.")),
      evictions_(metrics.GetCounter(
          "pat_sidecar_cache_evictions_total",
          "Digests dropped to stay within --cache_max_grants (used-only "
          "mode).")),
      asked_again_(metrics.GetCounter(
          "pat_sidecar_cache_answers_asked_again_total",
          "ValidateToken answers not used because a later watch event may "
          "have changed them (used-only mode); the authority is asked "
          "again.")),
      ignored_events_(metrics.GetCounter(
          "pat_sidecar_cache_events_not_held_total",
          "Grant events for tokens the cache does not hold (used-only "
          "mode): recorded, not applied.")),
      shards_(new Shard[kShards]),
      ledger_(options.ledger_keys) {}

GrantCache::~GrantCache() = default;

GrantCache::Shard& GrantCache::ShardFor(const Digest& d) const {
  // A byte the hash does not use.
  return shards_[d[31] % kShards];
}

CacheLookup GrantCache::Find(const Digest& digest) const {
  Shard& shard = ShardFor(digest);
  CacheLookup result;
  {
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.grants.find(digest);
    if (it != shard.grants.end()) {
      result.kind = CacheLookup::Kind::kFound;
      result.entry = it->second;
    } else {
      auto unknown = shard.unknown.find(digest);
      if (unknown != shard.unknown.end() && clock_.Now() < unknown->second) {
        result.kind = CacheLookup::Kind::kUnknown;
      }
    }
  }
  if (result.kind == CacheLookup::Kind::kMiss) {
    misses_.Inc();
  } else {
    hits_.Inc();
  }
  return result;
}

void GrantCache::Intern(Grant& grant) {
  if (grant.scopes == nullptr) {
    grant.scopes = std::make_shared<const std::vector<std::string>>();
  }
  // Length-prefixed, so no two scope lists share a key.
  std::string key;
  for (const std::string& scope : *grant.scopes) {
    const uint32_t n = static_cast<uint32_t>(scope.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof(n));
    key.append(scope);
  }
  absl::MutexLock lock(&intern_mu_);
  auto [it, inserted] = interned_.try_emplace(std::move(key), grant.scopes);
  if (!inserted) {
    grant.scopes = it->second;
    return;
  }
  if (interned_.size() > interned_prune_at_) {
    // Drop scope sets no grant uses any more (only the pool holds them).
    absl::erase_if(interned_, [](const auto& entry) {
      return entry.second.use_count() == 1;
    });
    interned_prune_at_ = std::max<size_t>(1024, 2 * interned_.size());
  }
}

void GrantCache::Store(Shard& shard, const Digest& digest, CacheEntry entry) {
  if (shard.unknown.erase(digest) > 0) {
    negative_size_.fetch_sub(1, std::memory_order_relaxed);
  }
  auto [it, inserted] = shard.grants.try_emplace(digest);
  if (inserted) size_.fetch_add(1, std::memory_order_relaxed);
  it->second = std::move(entry);
}

void GrantCache::TrimToBound(const Digest& keep) {
  // Any other digests, from the shard after the last one trimmed: dropping
  // one only costs its next request a ValidateToken.
  for (int tries = 0; tries < kShards && size_.load(std::memory_order_relaxed) >
                                             options_.max_grants;
       ++tries) {
    Shard& shard = shards_[trim_next_];
    trim_next_ = (trim_next_ + 1) % kShards;
    std::vector<std::shared_ptr<const CachedToken>> dropped;
    absl::MutexLock lock(&shard.mu);
    for (auto it = shard.grants.begin();
         it != shard.grants.end() &&
         size_.load(std::memory_order_relaxed) > options_.max_grants;) {
      if (DigestEq()(it->first, keep)) {
        ++it;
        continue;
      }
      dropped.push_back(std::move(it->second.token));
      shard.grants.erase(it++);
      size_.fetch_sub(1, std::memory_order_relaxed);
      evictions_.Inc();
    }
  }
}

void GrantCache::ForgetUnknown(const Digest& digest) {
  Shard& shard = ShardFor(digest);
  absl::MutexLock lock(&shard.mu);
  if (shard.unknown.erase(digest) > 0) {
    negative_size_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void GrantCache::RememberUnknown(Shard& shard, const Digest& digest,
                                 absl::Time now) {
  const absl::Time until = now + options_.negative_ttl;
  auto [it, inserted] = shard.unknown.insert_or_assign(digest, until);
  if (inserted) negative_size_.fetch_add(1, std::memory_order_relaxed);
  shard.unknown_order.emplace_back(digest, until);
  // Evict from the front: entries that were replaced or forgotten (stale
  // order records), expired ones, and the oldest while over the bound.
  while (!shard.unknown_order.empty()) {
    const auto& [front_digest, front_until] = shard.unknown_order.front();
    auto front = shard.unknown.find(front_digest);
    const bool live =
        front != shard.unknown.end() && front->second == front_until;
    if (live && front_until > now &&
        shard.unknown.size() <= max_negative_per_shard_) {
      break;
    }
    if (live) {
      shard.unknown.erase(front);
      negative_size_.fetch_sub(1, std::memory_order_relaxed);
    }
    shard.unknown_order.pop_front();
  }
  // Order records of digests that were forgotten in the middle of the queue
  // are dropped here, so the queue stays proportional to the map.
  if (shard.unknown_order.size() > 2 * max_negative_per_shard_ + 64) {
    std::deque<std::pair<Digest, absl::Time>> kept;
    for (const auto& record : shard.unknown_order) {
      auto entry = shard.unknown.find(record.first);
      if (entry != shard.unknown.end() && entry->second == record.second) {
        kept.push_back(record);
      }
    }
    shard.unknown_order.swap(kept);
  }
}

namespace {

// R10: a token once seen revoked stays revoked.
void KeepRevoked(const Grant& held, Grant& next) {
  if (held.status == TokenStatus::kRevoked && held.token_id == next.token_id &&
      next.status != TokenStatus::kRevoked) {
    next.status = TokenStatus::kRevoked;
    next.revoke_time = held.revoke_time;
  }
}

}  // namespace

CacheEntry GrantCache::PutValidated(const Digest& digest, Grant grant,
                                    absl::Time secret_expire_time,
                                    bool overwrite) {
  return PutValidatedAt(digest, std::move(grant), secret_expire_time, overwrite,
                        /*revision=*/0);
}

std::optional<CacheEntry> GrantCache::PutAnswer(const Digest& digest,
                                                ValidateAnswer answer,
                                                bool overwrite) {
  if (options_.mode == CacheMode::kUsed) {
    return PutUsed(digest, std::move(answer), overwrite);
  }
  if (!answer.found) return PutUnknown(digest, overwrite);
  return PutValidatedAt(digest, std::move(answer.grant),
                        answer.secret_expire_time, overwrite, answer.revision);
}

std::optional<CacheEntry> GrantCache::PutUsed(const Digest& digest,
                                              ValidateAnswer answer,
                                              bool overwrite) {
  absl::MutexLock feed(&feed_mu_);
  const FeedLedger::Verdict verdict = ledger_.Judge(
      answer.revision,
      answer.found ? FeedLedger::TokenKey(answer.grant.token_id) : 0,
      FeedLedger::DigestKey(digest));
  if (verdict == FeedLedger::Verdict::kAskAgain) {
    asked_again_.Inc();
    return std::nullopt;
  }
  if (verdict == FeedLedger::Verdict::kKeep) {
    if (!answer.found) return PutUnknown(digest, overwrite);
    CacheEntry kept =
        PutValidatedAt(digest, std::move(answer.grant),
                       answer.secret_expire_time, overwrite, answer.revision);
    TrimToBound(digest);
    UpdateSizeGauge();
    return kept;
  }
  // kUseOnly: the answer for the request that asked, not kept.
  if (!answer.found) return CacheEntry();
  Intern(answer.grant);
  auto token = std::make_shared<CachedToken>();
  token->grant = std::move(answer.grant);
  token->revision = answer.revision;
  {
    Shard& shard = ShardFor(digest);
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.grants.find(digest);
    if (it != shard.grants.end()) {
      KeepRevoked(it->second.token->grant, token->grant);
    }
  }
  return CacheEntry{std::move(token), answer.secret_expire_time};
}

CacheEntry GrantCache::PutValidatedAt(const Digest& digest, Grant grant,
                                      absl::Time secret_expire_time,
                                      bool overwrite, int64_t revision) {
  Intern(grant);
  auto token = std::make_shared<CachedToken>();
  token->grant = std::move(grant);
  token->generation = generation_.load(std::memory_order_acquire);
  token->revision = revision;

  Shard& shard = ShardFor(digest);
  CacheEntry entry;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.grants.find(digest);
    if (it != shard.grants.end()) {
      if (!overwrite) return it->second;
      KeepRevoked(it->second.token->grant, token->grant);
    }
    entry.token = std::move(token);
    entry.secret_expire_time = secret_expire_time;
    Store(shard, digest, entry);
  }
  UpdateSizeGauge();
  return entry;
}

CacheEntry GrantCache::PutUnknown(const Digest& digest, bool overwrite) {
  Shard& shard = ShardFor(digest);
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.grants.find(digest);
    if (it != shard.grants.end()) {
      if (!overwrite) return it->second;
      shard.grants.erase(it);
      size_.fetch_sub(1, std::memory_order_relaxed);
    }
    RememberUnknown(shard, digest, now);
  }
  UpdateSizeGauge();
  return CacheEntry();
}

void GrantCache::Apply(GrantUpdate update, int64_t revision) {
  Intern(update.grant);
  if (options_.mode != CacheMode::kUsed) {
    ApplyUpdate(std::move(update), revision, /*held_only=*/false);
    return;
  }
  absl::MutexLock feed(&feed_mu_);
  std::vector<uint64_t> keys;
  keys.reserve(1 + update.secrets.size());
  keys.push_back(FeedLedger::TokenKey(update.grant.token_id));
  for (const SecretState& secret : update.secrets) {
    keys.push_back(FeedLedger::DigestKey(secret.digest));
  }
  ledger_.Record(revision, keys);
  ApplyUpdate(std::move(update), revision, /*held_only=*/true);
  TrimToBound(Digest{});
  UpdateSizeGauge();
}

void GrantCache::ApplyOther(int64_t revision) {
  if (options_.mode != CacheMode::kUsed) return;
  absl::MutexLock feed(&feed_mu_);
  ledger_.Record(revision, {});
}

void GrantCache::ApplyUpdate(GrantUpdate update, int64_t revision,
                             bool held_only) {
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  // A held state newer than the event already reflects it.
  auto newer = [revision](const CachedToken& held) {
    return revision > 0 && held.revision > revision;
  };
  if (update.secrets.empty()) {
    // No digests named: update whatever is held for the token.
    for (int i = 0; i < kShards; ++i) {
      Shard& shard = shards_[i];
      absl::MutexLock lock(&shard.mu);
      for (auto& [digest, entry] : shard.grants) {
        if (entry.token->grant.token_id != update.grant.token_id) continue;
        if (newer(*entry.token)) continue;
        auto token = std::make_shared<CachedToken>();
        token->grant = update.grant;
        KeepRevoked(entry.token->grant, token->grant);
        token->generation = generation;
        token->revision = revision;
        entry.token = std::move(token);
      }
    }
    UpdateSizeGauge();
    return;
  }

  auto token = std::make_shared<CachedToken>();
  token->grant = std::move(update.grant);
  token->generation = generation;
  token->revision = revision;
  // What is held for the token now (through any of its digests), for R10,
  // for the revision rule and (held_only) whether it is held at all.
  bool held = false;
  for (const SecretState& secret : update.secrets) {
    Shard& shard = ShardFor(secret.digest);
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.grants.find(secret.digest);
    if (it == shard.grants.end() ||
        it->second.token->grant.token_id != token->grant.token_id) {
      continue;
    }
    if (newer(*it->second.token)) return;
    held = true;
    KeepRevoked(it->second.token->grant, token->grant);
  }
  if (held_only && !held) {
    // Not held: only a digest remembered as unknown is affected.
    for (const SecretState& secret : update.secrets) {
      ForgetUnknown(secret.digest);
    }
    ignored_events_.Inc();
    UpdateSizeGauge();
    return;
  }
  std::shared_ptr<const CachedToken> published = std::move(token);
  for (const SecretState& secret : update.secrets) {
    Shard& shard = ShardFor(secret.digest);
    absl::MutexLock lock(&shard.mu);
    Store(shard, secret.digest, CacheEntry{published, secret.expire_time});
  }
  UpdateSizeGauge();
}

void GrantCache::BeginSnapshot() {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (options_.mode != CacheMode::kUsed) return;
  absl::MutexLock feed(&feed_mu_);
  ledger_.Break();
}

void GrantCache::FinishSnapshot(int64_t revision) {
  if (options_.mode != CacheMode::kUsed) {
    DropOlderGenerations();
    return;
  }
  absl::MutexLock feed(&feed_mu_);
  DropOlderGenerations();
  ledger_.Resume(revision);
}

void GrantCache::DropOlderGenerations() {
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  for (int i = 0; i < kShards; ++i) {
    Shard& shard = shards_[i];
    // Release dropped grants outside the lock.
    std::vector<std::shared_ptr<const CachedToken>> dropped;
    {
      absl::MutexLock lock(&shard.mu);
      for (auto it = shard.grants.begin(); it != shard.grants.end();) {
        if (it->second.token->generation < generation) {
          dropped.push_back(std::move(it->second.token));
          shard.grants.erase(it++);
          size_.fetch_sub(1, std::memory_order_relaxed);
        } else {
          ++it;
        }
      }
    }
  }
  UpdateSizeGauge();
}

void GrantCache::Touch(absl::Time t) {
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t current = last_contact_unix_nanos_.load(std::memory_order_relaxed);
  while (nanos > current && !last_contact_unix_nanos_.compare_exchange_weak(
                                current, nanos, std::memory_order_release,
                                std::memory_order_relaxed)) {
  }
}

absl::Time GrantCache::last_contact() const {
  const int64_t nanos =
      last_contact_unix_nanos_.load(std::memory_order_acquire);
  if (nanos == INT64_MIN) return absl::InfinitePast();
  return absl::FromUnixNanos(nanos);
}

bool GrantCache::Stale(absl::Time now, absl::Duration bound) const {
  if (!synced()) return true;
  return now - last_contact() > bound;
}

size_t GrantCache::negative_size() const {
  return negative_size_.load(std::memory_order_relaxed);
}

void GrantCache::UpdateSizeGauge() {
  size_gauge_.Set(static_cast<int64_t>(size_.load(std::memory_order_relaxed)));
  negative_gauge_.Set(
      static_cast<int64_t>(negative_size_.load(std::memory_order_relaxed)));
}

}  // namespace pat::sidecar
