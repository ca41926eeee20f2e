// TSAN tree self-test (test tsan_race_probe): a real race (two mutexes, one
// variable) that TSAN must still report with absl_tsan_interpose.cc linked,
// so the interposition cannot hide races.
//
// Neither thread exits before both have written: TSAN can miss a race with
// a thread that already finished (its slot may be reused), which made the
// probe fail once in a 20-repeat CI run. The wait is on a relaxed atomic,
// which gives TSAN no happens-before edge. Each thread writes many times:
// TSAN drops a race whose earlier access it cannot restore the stack of
// (history_size=4 in scripts/test), which made one write each fail to be
// reported once more (1 of 20 repeats, session 9); one of the many pairs is
// always reported.
#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
absl::Mutex mu, other;
int guarded = 0;
std::atomic<int> written{0};

constexpr int kWrites = 2000;

void WriteUnder(absl::Mutex* m) {
  for (int i = 0; i < kWrites; ++i) {
    absl::MutexLock l(m);
    ++guarded;
  }
  written.fetch_add(1, std::memory_order_relaxed);
  while (written.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
}

int main() {
  // Locks a different mutex than the other writer: a real race.
  std::thread a([] { WriteUnder(&mu); });
  std::thread b([] { WriteUnder(&other); });
  a.join();
  b.join();
  return 0;
}
