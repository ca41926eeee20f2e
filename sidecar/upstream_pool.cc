#include "sidecar/upstream_pool.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address.hpp"

namespace pat::sidecar {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

}  // namespace

bool UpstreamPool::LooksHealthy(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  return false;  // 0: closed by the peer; > 0: stray bytes
}

absl::StatusOr<tcp::endpoint> ResolveHostPort(absl::string_view host_port) {
  absl::string_view host;
  absl::string_view port_text;
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos || close + 1 >= host_port.size() ||
        host_port[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", host_port, "\": expected [v6]:port"));
    }
    host = host_port.substr(1, close - 1);
    port_text = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", host_port, "\": expected host:port"));
    }
    host = host_port.substr(0, colon);
    port_text = host_port.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address \"", host_port, "\": write IPv6 addresses as [v6]:port"));
    }
  }
  int port = -1;
  if (port_text.empty() || port_text.size() > 5 ||
      !absl::c_all_of(port_text, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", host_port, "\": bad port"));
  }
  if (host.empty()) {
    return tcp::endpoint(asio::ip::address_v4::any(),
                         static_cast<unsigned short>(port));
  }
  boost::system::error_code ec;
  const asio::ip::address address =
      asio::ip::make_address(std::string(host), ec);
  if (!ec) return tcp::endpoint(address, static_cast<unsigned short>(port));
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  const auto results =
      resolver.resolve(std::string(host), std::string(port_text), ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address \"", host_port, "\": cannot resolve host: ", ec.message()));
  }
  return results.begin()->endpoint();
}

absl::StatusOr<std::unique_ptr<UpstreamPool>> UpstreamPool::Create(
    absl::string_view url, std::size_t max_idle, absl::Duration idle_timeout) {
  constexpr absl::string_view kScheme = "http://";
  if (!absl::StartsWithIgnoreCase(url, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upstream \"", url, "\": only http://host:port is supported"));
  }
  absl::string_view authority = url.substr(kScheme.size());
  if (absl::EndsWith(authority, "/")) authority.remove_suffix(1);
  if (authority.empty() ||
      authority.find_first_of("/?#@") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upstream \"", url,
        "\": expected http://host:port with no path, query or user info"));
  }
  auto endpoint = ResolveHostPort(authority);
  if (!endpoint.ok()) return endpoint.status();
  if (endpoint->port() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("upstream \"", url, "\": port 0"));
  }
  if (idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("upstream idle timeout must be positive");
  }
  return std::unique_ptr<UpstreamPool>(new UpstreamPool(
      *endpoint, std::string(authority), max_idle, idle_timeout));
}

UpstreamPool::UpstreamPool(tcp::endpoint endpoint, std::string authority,
                           std::size_t max_idle, absl::Duration idle_timeout)
    : endpoint_(std::move(endpoint)),
      authority_(std::move(authority)),
      max_idle_(max_idle),
      idle_timeout_(idle_timeout) {}

UpstreamPool::~UpstreamPool() {
  absl::MutexLock lock(&mu_);
  for (const Idle& idle : idle_) ::close(idle.fd);
  idle_.clear();
}

int UpstreamPool::TakeIdle() {
  const absl::Time now = absl::Now();
  for (;;) {
    Idle idle;
    {
      absl::MutexLock lock(&mu_);
      if (idle_.empty()) return -1;
      idle = idle_.back();
      idle_.pop_back();
    }
    // The health check is a syscall: done outside the lock.
    if (now - idle.since < idle_timeout_ && LooksHealthy(idle.fd)) {
      return idle.fd;
    }
    ::close(idle.fd);
  }
}

void UpstreamPool::PutIdle(int fd) {
  if (fd < 0) return;
  {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back({fd, absl::Now()});
      return;
    }
  }
  ::close(fd);
}

std::size_t UpstreamPool::idle_count() const {
  absl::MutexLock lock(&mu_);
  return idle_.size();
}

}  // namespace pat::sidecar
