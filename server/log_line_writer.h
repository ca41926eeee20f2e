#ifndef PAT_SERVER_LOG_LINE_WRITER_H_
#define PAT_SERVER_LOG_LINE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// Writes log lines to a file descriptor from one background thread, so the
// threads that end RPCs never wait on write(2) (one syscall per line was a
// third of ValidateToken's cost; docs/capacity.md).
//
// Contract:
//  - Write() appends `line` and a newline to a buffer and returns at once.
//    Lines are written whole and in the order they were appended.
//  - Each write(2) holds whole lines and at most kAtomicWriteBytes (PIPE_BUF)
//    unless one line is longer, so lines of other writers to the same pipe
//    (gRPC's own log lines) are never cut into ours.
//  - Buffered lines are written within `flush_interval`, or sooner when
//    `flush_bytes` are waiting; Flush() and the destructor write everything
//    appended before them.
//  - Bounded: at most `max_buffered_bytes` wait; beyond it Write() drops the
//    line and returns false (the caller counts it). A write(2) error drops
//    the lines of that write.
namespace pat {

class LogLineWriter {
 public:
  static constexpr size_t kAtomicWriteBytes = 4096;

  struct Options {
    int fd = 2;
    size_t max_buffered_bytes = size_t{4} << 20;
    size_t flush_bytes = size_t{64} << 10;
    absl::Duration flush_interval = absl::Milliseconds(20);
  };

  explicit LogLineWriter(Options options);
  ~LogLineWriter();
  LogLineWriter(const LogLineWriter&) = delete;
  LogLineWriter& operator=(const LogLineWriter&) = delete;

  // False: the buffer is full and the line was dropped.
  bool Write(absl::string_view line);
  // Returns once every line appended before the call has been written (or
  // dropped by a failed write).
  void Flush();

  uint64_t dropped_lines() const;

 private:
  void Run();
  // Writes `batch` (whole lines) in writes of at most kAtomicWriteBytes.
  void WriteBatch(const std::string& batch);

  const Options options_;
  mutable absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;  // bytes ever appended
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;   // bytes handed to write(2)
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool flush_now_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pat

#endif  // PAT_SERVER_LOG_LINE_WRITER_H_
