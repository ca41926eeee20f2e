#ifndef PAT_SERVER_WEBHOOKS_HTTP_SENDER_H_
#define PAT_SERVER_WEBHOOKS_HTTP_SENDER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "server/webhooks/webhook_rules.h"

namespace pat::webhooks {

// One HTTP POST's outcome: ok for a 2xx answer; otherwise `error` names the
// failure ("http 503", "connect: Connection refused", "timeout").
struct SendResult {
  bool ok = false;
  std::string error;
};

struct HttpRequest {
  Target target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// An asynchronous HTTP/1.1 client (Boost.Beast) on its own I/O thread: one
// connection per request (Connection: close), the whole exchange (resolve,
// connect, write, read) bounded by `deadline`, and the response (headers
// and body) bounded to 64 KiB and discarded. `done` runs on the I/O thread
// and must not block. Thread-safe. The destructor stops the I/O thread and
// abandons what is still in flight (its `done` never runs): the owner waits
// for its exchanges first (WebhookWorker does, up to their deadline).
class HttpSender {
 public:
  HttpSender();
  ~HttpSender();
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  void Post(HttpRequest request, absl::Duration deadline,
            std::function<void(SendResult)> done);

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  std::thread thread_;
};

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_HTTP_SENDER_H_
