// Issue #8 item 5: a flood of connections that each hold an unfinished
// 40 KB request head must cost the sidecar a bounded amount of memory, and a
// real request must still be answered during the flood.
//
// The proxy runs in this process, so its memory is this process's RSS
// (/proc/self/status VmRSS). "The proxy has read everything it will read" is
// observed precisely: every accepted socket of the proxy's port has an empty
// receive queue in /proc/net/tcp (or the proxy has closed it).

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sidecar/authorizer.h"
#include "sidecar/metrics.h"
#include "sidecar/proxy_server.h"
#include "sidecar/upstream_pool.h"
#include "tools/sample_upstream_server.h"

namespace pat::sidecar {
namespace {

constexpr int kConnections = 1500;
constexpr size_t kHeadBytes = 40 * 1000;

class AllowAll : public Authorizer {
 public:
  void Authorize(const RequestView&, AuthorizeCallback done) override {
    AuthzResult r;
    r.reason = policy::Reason::kAllowed;
    r.http_status = 200;
    r.token_id = "tok";
    r.plan_id = "plan";
    std::move(done)(std::move(r));
  }
  bool WantsBody(absl::string_view, absl::string_view) const override {
    return false;
  }
  bool Ready() const override { return true; }
};

int64_t RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      int64_t kib = 0;
      std::vector<absl::string_view> parts =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
    }
  }
  return -1;
}

// Total bytes waiting in the receive queues of sockets whose local port is
// `port` (the proxy's accepted connections), from /proc/net/tcp.
int64_t UnreadBytesAtPort(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  int64_t total = 0;
  const std::string port_hex = absl::StrCat(absl::Hex(port, absl::kZeroPad4));
  while (std::getline(in, line)) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 5) continue;
    const absl::string_view local = f[1];
    const size_t colon = local.find(':');
    if (colon == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(local.substr(colon + 1), port_hex)) continue;
    if (f[3] == "0A") continue;  // LISTEN
    const absl::string_view queues = f[4];
    const size_t q = queues.find(':');
    uint64_t rx = 0;
    if (q != absl::string_view::npos &&
        absl::SimpleHexAtoi(queues.substr(q + 1), &rx)) {
      total += static_cast<int64_t>(rx);
    }
  }
  return total;
}

int ConnectNonBlocking(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// A well-formed request head of about kHeadBytes, without its final CRLF.
std::string UnfinishedHead() {
  std::string head = "GET /flood HTTP/1.1\r\nHost: api.example\r\n";
  const std::string value(990, 'a');
  for (int i = 0; head.size() < kHeadBytes; ++i) {
    absl::StrAppend(&head, "X-Pad-", i, ": ", value, "\r\n");
  }
  return head;
}

// One blocking request on a fresh connection; returns the status line.
std::string StatusLineOf(int port, absl::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    while (out.find("\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out.substr(0, out.find("\r\n"));
}

TEST(FrontFloodTest, HalfOpenFortyKilobyteHeadsCostBoundedMemory) {
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  const rlim_t need = 3 * kConnections + 256;
  if (nofile.rlim_cur < need) {
    nofile.rlim_cur = std::min(need, nofile.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0);
  }
  ASSERT_GE(nofile.rlim_cur, need) << "RLIMIT_NOFILE hard limit too low";

  tools::SampleUpstreamConfig upstream_config;
  upstream_config.listen = "127.0.0.1:0";
  auto upstream = tools::SampleUpstream::Create(upstream_config);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  auto pool = UpstreamPool::Create(
      absl::StrCat("http://127.0.0.1:", (*upstream)->port()), 8);
  ASSERT_TRUE(pool.ok()) << pool.status();
  MetricsRegistry metrics;
  AllowAll authorizer;
  ProxyServerConfig config;
  config.listen = "127.0.0.1:0";
  config.workers = 2;
  config.access_log = false;
  auto proxy = ProxyServer::Create(config, authorizer, **pool, metrics);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const int port = (*proxy)->port();

  const std::string good =
      "GET /real HTTP/1.1\r\nHost: api.example\r\n"
      "Authorization: Bearer x\r\n\r\n";
  // Warm up the proxy's allocator and threads before the baseline.
  ASSERT_EQ(StatusLineOf(port, good), "HTTP/1.1 200 OK");
  const int64_t before_kib = RssKiB();

  const std::string head = UnfinishedHead();
  std::vector<int> fds;
  std::vector<size_t> sent;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = ConnectNonBlocking(port);
    ASSERT_GE(fd, 0) << "connect " << i;
    fds.push_back(fd);
    sent.push_back(0);
  }
  // Push every head; a connection the proxy closed or refused stops taking
  // bytes (EPIPE/ECONNRESET), which is also fine.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (bool pending = true; pending && absl::Now() < deadline;) {
    pending = false;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (sent[i] >= head.size()) continue;
      const ssize_t n = ::send(fds[i], head.data() + sent[i],
                               head.size() - sent[i], MSG_NOSIGNAL);
      if (n > 0) sent[i] += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        sent[i] = head.size();  // closed by the proxy
      }
      if (sent[i] < head.size()) pending = true;
    }
  }
  // Wait until the proxy has consumed (or refused) everything it was sent.
  while (UnreadBytesAtPort(port) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(UnreadBytesAtPort(port), 0);
  const int64_t after_kib = RssKiB();
  const double growth_mib = static_cast<double>(after_kib - before_kib) / 1024;
  std::printf("[flood] %d connections x %zu B unfinished heads: RSS %lld KiB "
              "-> %lld KiB (+%.1f MiB)\n",
              kConnections, head.size(), static_cast<long long>(before_kib),
              static_cast<long long>(after_kib), growth_mib);
  EXPECT_LT(growth_mib, 64.0);

  // A real request is still answered during the flood.
  EXPECT_EQ(StatusLineOf(port, good), "HTTP/1.1 200 OK");

  for (int fd : fds) ::close(fd);
  (*proxy)->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace pat::sidecar
