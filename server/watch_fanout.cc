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
  std::unique_ptr<WatchFanout> fanout(
      new WatchFanout(hub, options, hub.head()));
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
  if (thread_.joinable()) thread_.join();
}

bool WatchFanout::Register(WatchSubscriber* subscriber) {
  absl::MutexLock lock(&subscribers_mu_);
  if (closed_) return false;
  subscribers_.push_back(subscriber);
  return true;
}

void WatchFanout::Unregister(WatchSubscriber* subscriber) {
  absl::MutexLock lock(&subscribers_mu_);
  auto it = std::find(subscribers_.begin(), subscribers_.end(), subscriber);
  if (it == subscribers_.end()) return;
  *it = subscribers_.back();
  subscribers_.pop_back();
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

void WatchFanout::Notify(bool live) {
  absl::ReaderMutexLock lock(&subscribers_mu_);
  for (WatchSubscriber* subscriber : subscribers_) {
    subscriber->OnFeedChanged(live);
  }
}

void WatchFanout::Run() {
  int64_t cursor = head();
  auto next_tick = std::chrono::steady_clock::now();
  const auto tick = absl::ToChronoNanoseconds(options_.tick);
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
    const auto now = std::chrono::steady_clock::now();
    if (changed || now >= next_tick) {
      Notify(batch.live);
      next_tick = now + tick;
    }
  }
  {
    absl::MutexLock lock(&subscribers_mu_);
    closed_ = true;
  }
  // Every stream registered by now sees kStopped and ends.
  Notify(false);
}

}  // namespace pat
