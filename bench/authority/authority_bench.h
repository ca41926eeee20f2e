#ifndef PAT_BENCH_AUTHORITY_AUTHORITY_BENCH_H_
#define PAT_BENCH_AUTHORITY_AUTHORITY_BENCH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/authority/latency.h"
#include "bench/authority/secrets_file.h"
#include "grpcpp/channel.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.pb.h"

// pat-bench-authority: closed-loop gRPC load on pat-authority. Each of C
// worker threads makes one synchronous call at a time; workers share K
// channels (worker i uses channel i mod K), each its own HTTP/2 connection.
namespace pat::bench {

// How to reach the authority. With no TLS file the channel is plaintext (the
// authority's --insecure mode); with --tls_* files it is TLS, mTLS when a
// certificate and key are given.
struct ConnectOptions {
  std::string authority;  // host:port
  std::string tls_ca;     // PEM file; empty: system roots (TLS only)
  std::string tls_cert;   // PEM file of the client certificate chain
  std::string tls_key;    // PEM file of its private key
  std::string tls_server_name;
  absl::Duration connect_timeout = absl::Seconds(10);
};

// `count` (>= 1) channels, each with a local subchannel pool and a distinct
// channel argument so that gRPC cannot share one connection between them,
// all connected before this returns; UNAVAILABLE when one does not connect
// within the timeout, INVALID_ARGUMENT/UNAVAILABLE for unreadable TLS files.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> OpenChannels(
    const ConnectOptions& options, int count);

// What CreateToken asks for (the seed subcommand and the create RPC).
struct TokenSpec {
  v1::TokenKind kind = v1::TOKEN_KIND_REST_API;
  std::vector<std::string> scopes;
  bool all_resources = true;
  std::vector<std::string> links;  // used when !all_resources
  int days = 90;
};

// A CreateToken request for `spec` on `plan_id` with the given name and
// idempotency key.
v1::CreateTokenRequest MakeCreateRequest(const TokenSpec& spec,
                                         const std::string& plan_id,
                                         std::string name,
                                         std::string request_id);

// A fresh prefix for request ids and token names of one run ("b" + 10
// base62 characters), so that two runs never replay each other's requests.
std::string NewRunId();

// --- seed --------------------------------------------------------------------

struct SeedOptions {
  std::string plan_id;
  std::string actor;
  TokenSpec spec;
  int count = 0;
  int concurrency = 1;
  absl::Duration timeout = absl::Seconds(10);
  // Transient failures (UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED,
  // RESOURCE_EXHAUSTED) are retried, each time with a new request id, up to
  // this many attempts per token.
  int max_attempts = 3;
};

struct SeedResult {
  // The tokens created, in no particular order.
  std::vector<TokenSecret> tokens;
  absl::Duration elapsed;
  // Every failed attempt, by code (retried ones included).
  ErrorCounts errors;
  // OK, or the first failure that stopped seeding (a non-transient error, or
  // a transient one that exhausted its attempts). Seeding stops at the first
  // such failure; `tokens` still holds what was created.
  absl::Status failure;
};

// Creates `options.count` tokens with `options.concurrency` workers over
// `channels` (non-empty), each with a unique request id.
SeedResult Seed(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                const SeedOptions& options);

// --- load --------------------------------------------------------------------

// kBaseline: ValidateToken with an empty digest, which the authority rejects
// (INVALID_ARGUMENT) before any database access; the expected answer, so it
// is not counted as an error. It measures the gRPC + handler cost alone: the
// ceiling of any RPC that has to reach the database.
enum class Rpc { kValidate, kCreate, kRefresh, kRevoke, kGet, kBaseline };
enum class Order { kSequential, kRandom };

absl::StatusOr<Rpc> ParseRpc(absl::string_view name);
absl::string_view RpcName(Rpc rpc);
absl::StatusOr<Order> ParseOrder(absl::string_view name);
absl::string_view OrderName(Order order);

struct LoadOptions {
  Rpc rpc = Rpc::kValidate;
  int concurrency = 1;
  // Calls are made for warmup + duration; only calls started after the
  // warmup are measured. Ignored by --once (which measures every call).
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(2);
  // How validate/refresh/get pick the next token: sequential walks the list
  // round-robin from a per-worker start offset (worker i starts at i*n/C);
  // random draws uniformly (per-worker PRNG). For once/revoke, random
  // shuffles the list up front.
  Order order = Order::kSequential;
  // validate only: every digest is validated exactly once; the run ends when
  // the list is exhausted (the "cold" pass).
  bool once = false;
  // validate only: calls made on gRPC's callback client API, `concurrency`
  // chains of one call in flight each, no thread per call (as a sidecar
  // makes them); otherwise one blocking thread per call in flight.
  bool callback_client = false;
  std::string plan_id;  // create, refresh, revoke, get
  std::string actor;    // x-pat-actor of TokenService calls
  TokenSpec spec;       // create
  absl::Duration timeout = absl::Seconds(10);
  std::string label;
};

struct LoadResult {
  std::string label;
  Rpc rpc = Rpc::kValidate;
  int concurrency = 0;
  int channels = 0;
  Order order = Order::kSequential;
  bool once = false;
  bool callback_client = false;
  double warmup_s = 0;
  // The measured window: from the end of the warmup to the deadline, or to
  // the last call's completion when the run ended earlier (token list
  // exhausted).
  double duration_s = 0;
  int64_t calls = 0;  // measured calls, failed ones included
  int64_t ok = 0;
  ErrorCounts errors;      // measured failed calls by key; sums to calls - ok
  double rps = 0;          // calls / duration_s
  LatencySummary latency;  // of the successful measured calls
  // True when revoke ran out of token ids (or --once exhausted the digests)
  // before the deadline.
  bool exhausted = false;
};

// Runs `options.rpc` over `channels` (non-empty). `tokens` supplies digests
// (validate) or token ids (refresh, revoke, get) and must be non-empty for
// those; create ignores it. INVALID_ARGUMENT for inconsistent options.
// Failed calls are counted, never fatal; the first failure of each error key
// is logged to stderr (never with a secret).
absl::StatusOr<LoadResult> RunLoad(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    const LoadOptions& options, const std::vector<TokenSecret>& tokens);

// The result as the JSON object documented in main.cc, keys in that order.
nlohmann::ordered_json LoadResultToJson(const LoadResult& result);

// A two-line human summary.
std::string LoadResultSummary(const LoadResult& result);

}  // namespace pat::bench

#endif  // PAT_BENCH_AUTHORITY_AUTHORITY_BENCH_H_
