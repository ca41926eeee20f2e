// TSAN tree self-test (test tsan_absl_sync_probe): every absl
// synchronization pattern our code uses — MutexLock, CondVar::Wait,
// Notification, LockWhen — orders the accesses below. With
// absl_tsan_interpose.cc TSAN must report nothing (exit 0); without it,
// it reports each one (exit 66).
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
absl::Mutex mu;
int counter = 0;
int flag_data = 0;
int cv_data = 0;
bool cv_ready = false;
absl::CondVar cv;
int main() {
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([] {
      for (int j = 0; j < 1000; ++j) {
        absl::MutexLock l(&mu);
        ++counter;
      }
    });
  for (auto& t : ts) t.join();
  absl::Notification n;
  std::thread a([&] {
    flag_data = 42;
    n.Notify();
  });
  while (!n.HasBeenNotified()) {
  }
  int x = flag_data;
  a.join();
  std::thread b([&] {
    absl::MutexLock l(&mu);
    cv_data = 7;
    cv_ready = true;
    cv.Signal();
  });
  {
    absl::MutexLock l(&mu);
    while (!cv_ready) cv.Wait(&mu);
    x += cv_data;
  }
  b.join();
  int await_data = 0;
  bool ready = false;
  std::thread c([&] {
    absl::MutexLock l(&mu);
    await_data = 5;
    ready = true;
  });
  {
    mu.LockWhen(absl::Condition(&ready));
    x += await_data;
    mu.Unlock();
  }
  c.join();
  std::thread d([&] {
    absl::MutexLock l(&mu);
    await_data = 6;
  });
  d.join();
  return (x == 42 + 7 + 5 && counter == 4000) ? 0 : 1;
}
