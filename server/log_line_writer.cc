#include "server/log_line_writer.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace pat {

LogLineWriter::LogLineWriter(Options options)
    : options_(options), thread_([this] { Run(); }) {}

LogLineWriter::~LogLineWriter() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

bool LogLineWriter::Write(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  if (pending_.size() + line.size() + 1 > options_.max_buffered_bytes) {
    ++dropped_;
    return false;
  }
  pending_.append(line.data(), line.size());
  pending_.push_back('\n');
  appended_ += line.size() + 1;
  return true;
}

void LogLineWriter::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = appended_;
  flush_now_ = true;
  auto done = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return written_ >= target || stop_;
  };
  mu_.Await(absl::Condition(&done));
}

uint64_t LogLineWriter::dropped_lines() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

void LogLineWriter::Run() {
  std::string batch;
  for (;;) {
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || flush_now_ || pending_.size() >= options_.flush_bytes;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), options_.flush_interval);
      flush_now_ = false;
      stopping = stop_;
      batch.clear();
      batch.swap(pending_);
    }
    if (!batch.empty()) WriteBatch(batch);
    {
      absl::MutexLock lock(&mu_);
      written_ += batch.size();
    }
    if (stopping) {
      absl::MutexLock lock(&mu_);
      if (pending_.empty()) return;
    }
  }
}

void LogLineWriter::WriteBatch(const std::string& batch) {
  size_t begin = 0;
  while (begin < batch.size()) {
    // The longest run of whole lines that fits one atomic write, or one
    // whole (long) line.
    size_t end = batch.find('\n', begin) + 1;
    for (;;) {
      const size_t next = batch.find('\n', end);
      if (next == std::string::npos || next + 1 - begin > kAtomicWriteBytes) {
        break;
      }
      end = next + 1;
    }
    size_t offset = begin;
    while (offset < end) {
      const ssize_t n =
          ::write(options_.fd, batch.data() + offset, end - offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // drop the rest of this write
      offset += static_cast<size_t>(n);
    }
    begin = end;
  }
}

}  // namespace pat
