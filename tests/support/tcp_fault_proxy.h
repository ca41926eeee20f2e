#ifndef PAT_TESTS_SUPPORT_TCP_FAULT_PROXY_H_
#define PAT_TESTS_SUPPORT_TCP_FAULT_PROXY_H_

#include <memory>
#include <string>

#include "absl/time/time.h"

namespace pat::testing {

// A TCP proxy on 127.0.0.1 port 0 in front of a PostgreSQL server (or any
// TCP server) on 127.0.0.1, with faults a test switches on and off. It runs
// its own Boost.Asio thread; every method is thread-safe and takes effect
// for data read after it returns.
//
// Client→server bytes are parsed as PostgreSQL frontend messages (the
// untyped SSLRequest/startup packets first, then type byte + length), so
// the proxy can recognise a COMMIT: a simple Query ('Q') or a Parse ('P')
// whose text is COMMIT (case-insensitive, surrounding blanks and ';'
// ignored). Connections that negotiate TLS are not parsed after the
// handshake (the private test clusters run without TLS).
class TcpFaultProxy {
 public:
  // Null (with a test failure) when it cannot listen.
  static std::unique_ptr<TcpFaultProxy> Start(int target_port);
  ~TcpFaultProxy();

  int port() const;
  // `url` (postgresql://user@host:port/db?...) with host:port replaced by
  // the proxy's.
  std::string ProxiedUrl(const std::string& url) const;

  // Every chunk, in both directions, is delayed by `latency` ± `jitter`
  // (uniform), order preserved. Zero: no delay.
  void SetLatency(absl::Duration latency, absl::Duration jitter);
  // Stall(true): stop forwarding in both directions (bytes are held, the
  // connections stay open); Stall(false) forwards what was held.
  void Stall(bool stalled);
  // Closes every proxied connection now (new ones are still accepted).
  void CutAll();
  // Refuse(true): new connections are accepted and closed at once.
  void Refuse(bool refuse);
  // Later connections go to `target_port`.
  void SetTarget(int target_port);
  // Arms `count` cuts: the next `count` COMMITs sent by a client inside a
  // transaction whose statements contain `must_contain` (empty: any) are
  // forwarded, then, as soon as the server's answer starts to arrive, the
  // connection is closed without forwarding the answer (or after 5 s
  // without an answer). The commit has then happened on the server and the
  // client cannot know.
  void CutAfterCommit(int count, std::string must_contain = "");
  // COMMITs cut so far.
  int commits_cut() const;
  // Connections accepted so far (refused ones included).
  int accepted() const;

  struct Impl;

 private:
  explicit TcpFaultProxy(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_TCP_FAULT_PROXY_H_
