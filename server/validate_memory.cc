#include "server/validate_memory.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"

namespace pat {
namespace {

// Events taken from the hub per wake-up.
constexpr size_t kFollowBatch = 1024;

}  // namespace

ValidateMemory::ValidateMemory(ValidateMemoryOptions options, Loader loader,
                               LocalCommits local_commits, FeedHub& feed)
    : options_(options),
      loader_(std::move(loader)),
      local_commits_(std::move(local_commits)),
      feed_(feed),
      view_(options.view, feed.head()) {}

absl::StatusOr<std::unique_ptr<ValidateMemory>> ValidateMemory::Start(
    ValidateMemoryOptions options, Loader loader, LocalCommits local_commits,
    FeedHub& feed) {
  if (loader == nullptr || local_commits == nullptr) {
    return absl::InvalidArgumentError("ValidateMemory: loader required");
  }
  if (options.follow_slice <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("follow_slice: must be positive");
  }
  std::unique_ptr<ValidateMemory> memory(new ValidateMemory(
      options, std::move(loader), std::move(local_commits), feed));
  memory->following_.store(true);
  memory->follower_ = std::thread([m = memory.get()] { m->Follow(); });
  return memory;
}

ValidateMemory::~ValidateMemory() {
  Stop();
  if (follower_.joinable()) follower_.join();
}

void ValidateMemory::Stop() { stopping_.store(true); }

bool ValidateMemory::Serving() const {
  return following_.load() && feed_.live() &&
         view_.applied() >= local_commits_();
}

std::optional<absl::StatusOr<SecretAtHead>> ValidateMemory::TryLookupSecret(
    const Digest& digest) {
  if (!Serving()) return std::nullopt;
  std::optional<ValidateView::Entry> entry = view_.Find(digest);
  if (!entry.has_value()) return std::nullopt;
  if (options_.memory_hits != nullptr) options_.memory_hits->Inc();
  SecretAtHead answer;
  answer.head = entry->revision;
  if (entry->lookup != nullptr) answer.lookup = *entry->lookup;
  return answer;
}

absl::StatusOr<SecretAtHead> ValidateMemory::LookupSecret(
    const Digest& digest) {
  if (std::optional<absl::StatusOr<SecretAtHead>> held =
          TryLookupSecret(digest)) {
    return *std::move(held);
  }
  absl::StatusOr<std::vector<SecretAtHead>> read =
      ReadAndKeep(absl::MakeConstSpan(&digest, 1));
  if (!read.ok()) return read.status();
  return std::move(read->front());
}

absl::StatusOr<std::vector<SecretAtHead>> ValidateMemory::LookupSecrets(
    absl::Span<const Digest> digests) {
  std::vector<SecretAtHead> out(digests.size());
  std::vector<Digest> misses;
  std::vector<size_t> at;  // misses[k] answers out[at[k]]
  for (size_t i = 0; i < digests.size(); ++i) {
    std::optional<absl::StatusOr<SecretAtHead>> held =
        TryLookupSecret(digests[i]);
    if (held.has_value() && held->ok()) {
      out[i] = **std::move(held);
      continue;
    }
    misses.push_back(digests[i]);
    at.push_back(i);
  }
  if (misses.empty()) return out;
  absl::StatusOr<std::vector<SecretAtHead>> read = ReadAndKeep(misses);
  if (!read.ok()) return read.status();
  for (size_t k = 0; k < at.size(); ++k) out[at[k]] = std::move((*read)[k]);
  return out;
}

absl::StatusOr<std::vector<SecretAtHead>> ValidateMemory::ReadAndKeep(
    absl::Span<const Digest> digests) {
  if (options_.database_reads != nullptr) {
    options_.database_reads->Inc(digests.size());
  }
  absl::StatusOr<std::vector<SecretAtHead>> read = loader_(digests);
  if (!read.ok()) return read.status();
  if (read->size() != digests.size()) {
    return absl::InternalError("ValidateMemory: the loader's answer count");
  }
  for (size_t i = 0; i < digests.size(); ++i) {
    view_.Insert(digests[i], (*read)[i].lookup, (*read)[i].head);
  }
  if (options_.entries != nullptr) {
    options_.entries->Set(
        static_cast<int64_t>(view_.entries() + view_.unknown_entries()));
  }
  return read;
}

void ValidateMemory::Apply(const v1::GrantEvent& event) {
  if (event.change_case() == v1::GrantEvent::CHANGE_NOT_SET) {
    // An event the hub could not read: it may have changed any token.
    view_.Reset(event.revision());
    return;
  }
  if (!event.has_grant()) {
    view_.ApplyOther(event.revision());
    return;
  }
  std::vector<Digest> digests;
  digests.reserve(event.secrets_size());
  for (const v1::SecretState& secret : event.secrets()) {
    absl::StatusOr<Digest> digest = DigestFromBytes(secret.secret_sha256());
    if (digest.ok()) digests.push_back(*digest);
  }
  view_.ApplyGrant(event.revision(), event.grant().token_id(), digests);
}

void ValidateMemory::Follow() {
  while (!stopping_.load()) {
    const int64_t after = view_.applied();
    FeedHub::Batch batch = feed_.WaitForEvents(
        after, kFollowBatch, absl::Now() + options_.follow_slice);
    switch (batch.status) {
      case FeedHub::WaitStatus::kStopped:
        following_.store(false);
        return;
      case FeedHub::WaitStatus::kEvents:
        for (const FeedEventPtr& event : batch.events) Apply(*event);
        break;
      case FeedHub::WaitStatus::kBehind:
        // Events after `after` are gone from memory (or the feed head was
        // rewound): what they changed is unknown.
        view_.Reset(batch.head);
        break;
      case FeedHub::WaitStatus::kTimeout:
        break;
    }
    if (options_.entries != nullptr) {
      options_.entries->Set(
          static_cast<int64_t>(view_.entries() + view_.unknown_entries()));
    }
  }
  following_.store(false);
}

}  // namespace pat
