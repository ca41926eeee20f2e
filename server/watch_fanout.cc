#include "server/watch_fanout.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"

namespace pat {
namespace {

// Events taken from the hub per wake-up.
constexpr size_t kMaxEventsPerWake = 512;

}  // namespace

absl::StatusOr<std::unique_ptr<WatchFanout>> WatchFanout::Start(
    FeedHub& hub, WatchFanoutOptions options) {
  if (options.ring_capacity == 0) {
    return absl::InvalidArgumentError("ring_capacity: must be at least 1");
  }
  if (options.tick <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("tick: must be positive");
  }
  if (options.notify_threads < 1 || options.notify_threads > 64) {
    return absl::InvalidArgumentError("notify_threads: must be 1..64");
  }
  std::unique_ptr<WatchFanout> fanout(
      new WatchFanout(hub, options, hub.head()));
  for (int i = 0; i < options.notify_threads; ++i) {
    fanout->shards_.push_back(std::make_unique<Shard>());
  }
  for (const std::unique_ptr<Shard>& shard : fanout->shards_) {
    shard->thread =
        std::thread([f = fanout.get(), s = shard.get()] { f->NotifyLoop(*s); });
  }
  fanout->thread_ = std::thread([f = fanout.get()] { f->Run(); });
  return fanout;
}

WatchFanout::WatchFanout(FeedHub& hub, WatchFanoutOptions options, int64_t head)
    : hub_(hub), options_(options) {
  absl::MutexLock lock(&ring_mu_);
  base_ = head;
  epoch_start_ = head;
}

WatchFanout::~WatchFanout() {
  Stop();
  absl::MutexLock lock(&attach_mu_);
  attach_mu_.Await(absl::Condition(
      +[](int64_t* attached) { return *attached == 0; }, &attached_));
}

void WatchFanout::Attach() {
  absl::MutexLock lock(&attach_mu_);
  ++attached_;
}

void WatchFanout::Detach() {
  absl::MutexLock lock(&attach_mu_);
  --attached_;
}

void WatchFanout::Stop() {
  {
    absl::MutexLock lock(&ring_mu_);
    stopping_ = true;
  }
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();  // it closes the shards
  for (const std::unique_ptr<Shard>& shard : shards_) {
    if (shard->thread.joinable()) shard->thread.join();
  }
}

bool WatchFanout::Register(WatchSubscriber* subscriber) {
  {
    absl::MutexLock lock(&pass_mu_);
    if (closed_) return false;
  }
  // A subscriber added after the last pass of its shard began still reads
  // kStopped on its own first Read (the ring stops before the shards close).
  Shard& shard = *shards_[next_shard_.fetch_add(1) % shards_.size()];
  absl::MutexLock lock(&shard.mu);
  shard.subscribers.push_back(subscriber);
  return true;
}

void WatchFanout::Unregister(WatchSubscriber* subscriber) {
  for (const std::unique_ptr<Shard>& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    std::vector<WatchSubscriber*>& list = shard->subscribers;
    auto it = std::find(list.begin(), list.end(), subscriber);
    if (it == list.end()) continue;
    *it = list.back();
    list.pop_back();
    return;
  }
}

WatchFanout::ReadResult WatchFanout::Read(int64_t cursor,
                                          uint64_t epoch) const {
  ReadResult result;
  absl::MutexLock lock(&ring_mu_);
  result.epoch = epoch_;
  if (stopping_) {
    result.status = ReadStatus::kStopped;
    return result;
  }
  // A reader of an older epoch may go on only from at or below the point
  // where the ring restarted: above it, its events were not the ones the
  // feed now has.
  if (epoch != 0 && epoch != epoch_ &&
      (epoch + 1 != epoch_ || cursor > epoch_start_)) {
    result.status = ReadStatus::kLost;
    return result;
  }
  const int64_t last = base_ + static_cast<int64_t>(ring_.size());
  if (cursor < base_) {
    result.status = ReadStatus::kBehind;
  } else if (cursor >= last) {
    result.status = ReadStatus::kCurrent;
  } else {
    const Entry& entry = ring_[static_cast<size_t>(cursor - base_)];
    result.status = ReadStatus::kEvent;
    result.revision = entry.revision;
    result.bytes = entry.bytes;
  }
  return result;
}

int64_t WatchFanout::head() const {
  absl::MutexLock lock(&ring_mu_);
  return base_ + static_cast<int64_t>(ring_.size());
}

int64_t WatchFanout::serialized() const {
  absl::MutexLock lock(&ring_mu_);
  return serialized_;
}

void WatchFanout::Append(const std::vector<FeedEventPtr>& events) {
  std::vector<Entry> entries;
  entries.reserve(events.size());
  v1::WatchGrantsResponse response;
  for (const FeedEventPtr& event : events) {
    *response.mutable_event() = *event;
    entries.push_back(
        Entry{event->revision(), grpc::Slice(response.SerializeAsString())});
  }
  if (options_.serialized != nullptr) options_.serialized->Inc(entries.size());
  absl::MutexLock lock(&ring_mu_);
  for (Entry& entry : entries) ring_.push_back(std::move(entry));
  serialized_ += static_cast<int64_t>(entries.size());
  while (ring_.size() > options_.ring_capacity) {
    ring_.pop_front();
    ++base_;
  }
}

void WatchFanout::Restart(int64_t head) {
  absl::MutexLock lock(&ring_mu_);
  ring_.clear();
  base_ = head;
  epoch_start_ = head;
  ++epoch_;
}

void WatchFanout::StartPass(bool live) {
  absl::MutexLock lock(&pass_mu_);
  ++generation_;
  live_ = live;
  pass_cv_.SignalAll();
}

void WatchFanout::NotifyLoop(Shard& shard) {
  uint64_t seen = 0;
  while (true) {
    bool live = false;
    bool last = false;
    {
      absl::MutexLock lock(&pass_mu_);
      const absl::Time deadline = absl::Now() + options_.tick;
      while (generation_ == seen && !closed_) {
        if (pass_cv_.WaitWithDeadline(&pass_mu_, deadline)) break;  // tick
      }
      seen = generation_;
      live = live_ && !closed_;
      last = closed_;
    }
    {
      absl::ReaderMutexLock lock(&shard.mu);
      for (WatchSubscriber* subscriber : shard.subscribers) {
        subscriber->OnFeedChanged(live);
      }
    }
    if (last) return;  // every stream registered by now saw kStopped
  }
}

void WatchFanout::Run() {
  int64_t cursor = head();
  while (true) {
    {
      absl::MutexLock lock(&ring_mu_);
      if (stopping_) break;
    }
    FeedHub::Batch batch = hub_.WaitForEvents(cursor, kMaxEventsPerWake,
                                              absl::Now() + options_.tick);
    bool changed = false;
    switch (batch.status) {
      case FeedHub::WaitStatus::kStopped: {
        absl::MutexLock lock(&ring_mu_);
        stopping_ = true;
        break;
      }
      case FeedHub::WaitStatus::kEvents:
        Append(batch.events);
        cursor = batch.events.back()->revision();
        changed = true;
        break;
      case FeedHub::WaitStatus::kBehind:
        // This thread fell behind the hub's memory, or the feed head went
        // backwards: restart at the hub's head; streams behind it read the
        // database, streams beyond it (lost history) get kLost.
        Restart(batch.head);
        cursor = batch.head;
        changed = true;
        break;
      case FeedHub::WaitStatus::kTimeout:
        break;
    }
    if (batch.status == FeedHub::WaitStatus::kStopped) break;
    if (changed) {
      StartPass(batch.live);
    } else {
      absl::MutexLock lock(&pass_mu_);
      live_ = batch.live;  // for the shards' tick passes
    }
  }
  absl::MutexLock lock(&pass_mu_);
  closed_ = true;
  pass_cv_.SignalAll();
}

}  // namespace pat
