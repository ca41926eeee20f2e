#ifndef PAT_TESTS_SUPPORT_WEBHOOK_RECEIVER_H_
#define PAT_TESTS_SUPPORT_WEBHOOK_RECEIVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"

namespace pat::testing {

// A real HTTP/1.1 webhook receiver on 127.0.0.1 (Boost.Beast): records every
// POST (headers of interest and body) and answers `status` (200 by default).
// Stop() closes the listening socket (connections are then refused); Start()
// binds again, on the same port after the first start.
class WebhookReceiver {
 public:
  struct Request {
    std::string signature;        // X-Pat-Signature
    std::string event_type;       // X-Pat-Event-Type
    std::string idempotency_key;  // X-Pat-Idempotency-Key
    std::string attempt;          // X-Pat-Delivery-Attempt
    std::string body;
  };

  WebhookReceiver() = default;
  ~WebhookReceiver() { Stop(); }

  // Fails the calling test on error.
  void Start();
  void Stop();
  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  // The answer to the next `count` requests (then 200 again).
  void FailNext(int count, int status);
  std::vector<Request> requests() const;
  // Polls (real time) until `done(requests())` or `timeout`.
  bool WaitFor(const std::function<bool(const std::vector<Request>&)>& done,
               absl::Duration timeout = absl::Seconds(20)) const;

 private:
  void Accept();
  void Serve(boost::asio::ip::tcp::socket socket);

  int port_ = 0;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  int fail_count_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_status_ ABSL_GUARDED_BY(mu_) = 503;
};

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_WEBHOOK_RECEIVER_H_
