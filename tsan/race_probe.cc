// TSAN tree self-test (test tsan_race_probe): a real race (two mutexes, one
// variable) that TSAN must still report with absl_tsan_interpose.cc linked,
// so the interposition cannot hide races.
#include <thread>

#include "absl/synchronization/mutex.h"
absl::Mutex mu, other;
int guarded = 0;
int main() {
  // Locks a different mutex than the writer: a real race TSAN must report.
  std::thread a([] {
    absl::MutexLock l(&mu);
    ++guarded;
  });
  std::thread b([] {
    absl::MutexLock l(&other);
    ++guarded;
  });
  a.join();
  b.join();
  return 0;
}
