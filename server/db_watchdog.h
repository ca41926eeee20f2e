#ifndef PAT_SERVER_DB_WATCHDOG_H_
#define PAT_SERVER_DB_WATCHDOG_H_

#include <cstdint>

#include "absl/time/time.h"

// Client-side bound on a database round trip. statement_timeout is enforced
// by the server, so it cannot end a wait on a network that stalls (packets
// neither delivered nor refused): libpq would block until TCP gives up. A
// watched socket still in use at its time is shut down (shutdown(2), never
// closed: the owner still closes it), which wakes the blocked libpq call
// with a broken connection. One process-wide thread; thread-safe.
namespace pat {

class DbSocketWatchdog {
 public:
  // Unwatches on destruction; after that the watchdog never touches the
  // socket again (so the connection may be reused or closed).
  class Watch {
   public:
    Watch() = default;
    Watch(Watch&& other) noexcept : id_(other.id_) { other.id_ = 0; }
    Watch& operator=(Watch&&) = delete;
    ~Watch();

   private:
    friend class DbSocketWatchdog;
    explicit Watch(uint64_t id) : id_(id) {}
    uint64_t id_ = 0;
  };

  // Shuts `fd` down at `when` unless the Watch is gone by then. A negative
  // fd or an infinite time: nothing is watched.
  static Watch Arm(int fd, absl::Time when);
  // Sockets shut down so far (for tests and metrics).
  static int64_t fired();
};

}  // namespace pat

#endif  // PAT_SERVER_DB_WATCHDOG_H_
