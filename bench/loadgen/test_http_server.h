#ifndef PAT_BENCH_LOADGEN_TEST_HTTP_SERVER_H_
#define PAT_BENCH_LOADGEN_TEST_HTTP_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

// A tiny HTTP/1.1 keep-alive server for loadgen_test, on 127.0.0.1 with an
// ephemeral port, served by one background thread. Routes (any method):
//   /status/NNN   answers NNN (100 < NNN <= 999) with a small body
//   /close        200 with Connection: close, then closes the connection
//   /chunked      200 with a chunked body
//   /delay/MS     200 after MS milliseconds
//   /hang         never answers (the connection is held open)
//   anything else 200 "ok"
// Every request is counted, with each header field as "name: value"
// (name lower-cased). Accessors are thread-safe.
namespace pat::bench::loadgen::test_support {

class TestHttpServer {
 public:
  TestHttpServer();
  // Stops the thread and drops every connection.
  ~TestHttpServer();

  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const;
  uint64_t requests() const;
  uint64_t connections() const;
  // How many requests carried the field "name: value" (name lower case).
  uint64_t HeaderCount(const std::string& name_and_value) const;
  // Requests per request-target.
  std::map<std::string, uint64_t> Paths() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace pat::bench::loadgen::test_support

#endif  // PAT_BENCH_LOADGEN_TEST_HTTP_SERVER_H_
