#include "server/db_watchdog.h"

#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace pat {
namespace {

class Watchdog {
 public:
  Watchdog() {
    std::thread([this] { Run(); }).detach();  // lives as long as the process
  }

  uint64_t Add(int fd, absl::Time when) {
    absl::MutexLock lock(&mu_);
    const uint64_t id = ++next_id_;
    entries_.emplace(id, Entry{fd, when});
    // Only an entry due before the thread's next wake-up needs one: most
    // are armed at an RPC deadline seconds away and removed long before, so
    // arming costs no thread switch.
    if (when < wake_at_) wake_ = true;
    return id;
  }

  void Remove(uint64_t id) {
    absl::MutexLock lock(&mu_);
    entries_.erase(id);
  }

  int64_t fired() {
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  struct Entry {
    int fd;
    absl::Time when;
  };

  void Run() {
    absl::MutexLock lock(&mu_);
    for (;;) {
      absl::Time next = absl::InfiniteFuture();
      const absl::Time now = absl::Now();
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.when <= now) {
          // Under mu_: Remove() cannot return while this runs, so the fd
          // is still the watched connection's.
          ::shutdown(it->second.fd, SHUT_RDWR);
          ++fired_;
          it = entries_.erase(it);
          continue;
        }
        next = std::min(next, it->second.when);
        ++it;
      }
      // Wakes at the earliest time, or when an entry due earlier is added;
      // removals need no wake-up (a wake-up for a removed entry finds
      // nothing due and sleeps again).
      wake_ = false;
      wake_at_ = next;
      mu_.AwaitWithDeadline(absl::Condition(&wake_), next);
    }
  }

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // The time the thread sleeps until, and whether it must wake before it.
  absl::Time wake_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  int64_t fired_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

Watchdog& Instance() {
  static Watchdog* const watchdog = new Watchdog();  // never destroyed
  return *watchdog;
}

}  // namespace

DbSocketWatchdog::Watch::~Watch() {
  if (id_ != 0) Instance().Remove(id_);
}

DbSocketWatchdog::Watch DbSocketWatchdog::Arm(int fd, absl::Time when) {
  if (fd < 0 || when == absl::InfiniteFuture()) return Watch();
  return Watch(Instance().Add(fd, when));
}

int64_t DbSocketWatchdog::fired() { return Instance().fired(); }

}  // namespace pat
