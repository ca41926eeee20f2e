#ifndef PAT_TOOLS_SAMPLE_UPSTREAM_SERVER_H_
#define PAT_TOOLS_SAMPLE_UPSTREAM_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// A stand-in for the API behind the sidecar, for demos and tests. HTTP/1.1
// with keep-alive. Every request is answered 200 with a JSON echo:
//   {"method":"GET","target":"/v1/x?y=1","version":"1.1",
//    "headers":{"host":["..."],"x-a":["1","2"]},   (lower-case names)
//    "body_length":0,"body_fnv1a64":"cbf29ce484222325"}
// The body is read as it arrives (never buffered whole) and summarized by
// its length and 64-bit FNV-1a hash (16 lower-case hex digits).
//
// Test helpers (all methods):
//   /__pat_sample/count         {"count":N,"connections":M}: requests served
//                               (this one excluded) and connections accepted
//   /__pat_sample/bytes?n=N     a chunked body of N bytes of 'x' (N <= 1 GiB)
//   /__pat_sample/delay?ms=N    the echo, after N ms (N <= 10000)
namespace pat::tools {

struct SampleUpstreamConfig {
  // "host:port"; port 0 picks a free port.
  std::string listen = "127.0.0.1:9000";
  int threads = 2;
};

class SampleUpstream {
 public:
  static absl::StatusOr<std::unique_ptr<SampleUpstream>> Create(
      const SampleUpstreamConfig& config);
  // Shutdown() if it has not been called.
  ~SampleUpstream();

  SampleUpstream(const SampleUpstream&) = delete;
  SampleUpstream& operator=(const SampleUpstream&) = delete;

  int port() const;
  // Complete requests answered, /__pat_sample/count excluded.
  uint64_t requests_served() const;
  uint64_t connections_accepted() const;

  // Stops serving and joins the threads. Idempotent.
  void Shutdown();

  struct State;  // implementation

 private:
  explicit SampleUpstream(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// 64-bit FNV-1a, continued from `hash` (start with kFnv1a64Offset).
inline constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ull;
uint64_t Fnv1a64(absl::string_view data, uint64_t hash = kFnv1a64Offset);

}  // namespace pat::tools

#endif  // PAT_TOOLS_SAMPLE_UPSTREAM_SERVER_H_
