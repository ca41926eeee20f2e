// LogLineWriter (server/log_line_writer.h): lines whole and in order, each
// write(2) whole lines of at most PIPE_BUF bytes (one line alone if longer),
// the buffer bound with its exact drop count, Flush and the destructor.
#include "server/log_line_writer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat {
namespace {

// A SOCK_SEQPACKET pair keeps the boundary of every write(2): each recv
// returns exactly one write.
class Seqpacket {
 public:
  Seqpacket() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds_), 0);
    int size = 1 << 22;
    ::setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    ::setsockopt(fds_[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  ~Seqpacket() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int writer() const { return fds_[0]; }
  // Every message already sent, one string per write(2).
  std::vector<std::string> Drain() {
    std::vector<std::string> out;
    std::string buffer(1 << 20, '\0');
    for (;;) {
      const ssize_t n =
          ::recv(fds_[1], buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      out.emplace_back(buffer.data(), static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

std::vector<std::string> Lines(const std::vector<std::string>& writes) {
  std::vector<std::string> lines;
  for (const std::string& w : writes) {
    EXPECT_FALSE(w.empty());
    EXPECT_EQ(w.back(), '\n') << "a write ended inside a line";
    for (absl::string_view l : absl::StrSplit(w, '\n', absl::SkipEmpty())) {
      lines.emplace_back(l);
    }
  }
  return lines;
}

TEST(LogLineWriterTest, ManyThreadsLinesWholeInOrderAndWritesAtomic) {
  Seqpacket sink;
  constexpr int kThreads = 4;
  constexpr int kLines = 2000;
  {
    LogLineWriter writer({.fd = sink.writer()});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&writer, t] {
        for (int i = 0; i < kLines; ++i) {
          // Lines of different lengths, so batches end at odd places.
          ASSERT_TRUE(writer.Write(absl::StrCat(
              "{\"t\":", t, ",\"i\":", i, ",\"pad\":\"",
              std::string(static_cast<size_t>(i % 97), 'x'), "\"}")));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    writer.Flush();
    EXPECT_EQ(writer.dropped_lines(), 0u);
    const std::vector<std::string> writes = sink.Drain();
    for (const std::string& w : writes) {
      EXPECT_LE(w.size(), LogLineWriter::kAtomicWriteBytes);
    }
    // Batching: far fewer writes than lines.
    EXPECT_LT(writes.size(), static_cast<size_t>(kThreads * kLines / 4));
    std::vector<int> next(kThreads, 0);
    int total = 0;
    for (const std::string& line : Lines(writes)) {
      int t = -1, i = -1;
      ASSERT_EQ(std::sscanf(line.c_str(), "{\"t\":%d,\"i\":%d", &t, &i), 2)
          << line;
      ASSERT_GE(t, 0);
      ASSERT_LT(t, kThreads);
      EXPECT_EQ(i, next[t]) << "thread " << t << " out of order";
      next[t] = i + 1;
      ++total;
    }
    EXPECT_EQ(total, kThreads * kLines);
  }
}

TEST(LogLineWriterTest, LineLongerThanAnAtomicWriteIsWrittenAlone) {
  Seqpacket sink;
  LogLineWriter writer({.fd = sink.writer()});
  const std::string long_line(3 * LogLineWriter::kAtomicWriteBytes, 'L');
  ASSERT_TRUE(writer.Write("before"));
  ASSERT_TRUE(writer.Write(long_line));
  ASSERT_TRUE(writer.Write("after"));
  writer.Flush();
  const std::vector<std::string> writes = sink.Drain();
  ASSERT_EQ(Lines(writes),
            (std::vector<std::string>{"before", long_line, "after"}));
  bool alone = false;
  for (const std::string& w : writes) alone |= (w == long_line + "\n");
  EXPECT_TRUE(alone) << "the long line shared a write";
}

TEST(LogLineWriterTest, FullBufferDropsAndCountsExactly) {
  Seqpacket sink;
  // Never flushed on its own: only Flush() empties the buffer.
  LogLineWriter writer({.fd = sink.writer(),
                        .max_buffered_bytes = 100,
                        .flush_bytes = size_t{1} << 30,
                        .flush_interval = absl::Hours(1)});
  int accepted = 0;
  for (int i = 0; i < 15; ++i) {
    // 9 characters and the newline: 10 bytes each.
    accepted += writer.Write(absl::StrFormat("line-%04d", i)) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(writer.dropped_lines(), 5u);
  EXPECT_TRUE(sink.Drain().empty()) << "written before the interval";
  writer.Flush();
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i)
    expected.push_back(absl::StrFormat("line-%04d", i));
  EXPECT_EQ(Lines(sink.Drain()), expected);
  // Room again after the flush.
  EXPECT_TRUE(writer.Write("again-xxx"));
  EXPECT_EQ(writer.dropped_lines(), 5u);
}

TEST(LogLineWriterTest, DestructorWritesEverythingAppended) {
  Seqpacket sink;
  {
    LogLineWriter writer({.fd = sink.writer(),
                          .flush_bytes = size_t{1} << 30,
                          .flush_interval = absl::Hours(1)});
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(writer.Write(absl::StrCat(i)));
  }
  const std::vector<std::string> lines = Lines(sink.Drain());
  ASSERT_EQ(lines.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(lines[i], absl::StrCat(i));
}

TEST(LogLineWriterTest, WrittenWithinTheIntervalWithoutFlush) {
  Seqpacket sink;
  LogLineWriter writer(
      {.fd = sink.writer(), .flush_interval = absl::Milliseconds(5)});
  ASSERT_TRUE(writer.Write("soon"));
  // Polls the receiving side (bounded), no sleep as synchronization.
  std::vector<std::string> got;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (got.empty() && absl::Now() < deadline) {
    got = sink.Drain();
    if (got.empty()) std::this_thread::yield();
  }
  EXPECT_EQ(Lines(got), std::vector<std::string>{"soon"});
}

TEST(LogLineWriterTest, FailedWriteDropsThatBatchAndFlushReturns) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // writes fail EPIPE (SIGPIPE ignored below)
  signal(SIGPIPE, SIG_IGN);
  LogLineWriter writer({.fd = fds[1]});
  ASSERT_TRUE(writer.Write("lost"));
  writer.Flush();  // returns although nothing could be written
  ::close(fds[1]);
}

}  // namespace
}  // namespace pat
