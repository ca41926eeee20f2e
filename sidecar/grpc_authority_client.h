#ifndef PAT_SIDECAR_GRPC_AUTHORITY_CLIENT_H_
#define PAT_SIDECAR_GRPC_AUTHORITY_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "sidecar/authority_client.h"
#include "sidecar/metrics.h"

// AuthorityClient over gRPC (pat.v1.IntrospectionService). ValidateToken and
// ResolveResource use gRPC's callback API with a deadline: their callbacks
// run on gRPC's callback threads. ReportUsage is a blocking unary call and
// WatchGrants a blocking server stream (each runs on its own thread).
//
// Metrics: pat_sidecar_authority_rpcs_total{method},
// pat_sidecar_authority_rpc_errors_total{method},
// pat_sidecar_authority_calls_in_flight.
namespace pat::sidecar {

struct AuthorityClientConfig {
  // "host:port" of the authority (any gRPC target string).
  std::string target;
  // Plaintext. Otherwise TLS with the CA below, and mTLS when a certificate
  // and key are given (the authority requires client certificates in
  // production).
  bool insecure = false;
  std::string tls_ca_pem;    // PEM contents, not a path
  std::string tls_cert_pem;  // PEM contents
  std::string tls_key_pem;   // PEM contents
  // Deadline of ValidateToken and ResolveResource (they run on the request
  // path) and of ReportUsage.
  absl::Duration rpc_timeout = absl::Seconds(2);
  absl::Duration report_timeout = absl::Seconds(5);
};

class GrpcAuthorityClient final : public AuthorityClient {
 public:
  // Builds the channel (it connects lazily). INVALID_ARGUMENT when the
  // target is empty or TLS material is inconsistent. `metrics` must outlive
  // the client.
  static absl::StatusOr<std::unique_ptr<AuthorityClient>> Create(
      const AuthorityClientConfig& config, MetricsRegistry& metrics);

  // Cancels the asynchronous calls in flight and waits for their callbacks.
  ~GrpcAuthorityClient() override;
  GrpcAuthorityClient(const GrpcAuthorityClient&) = delete;
  GrpcAuthorityClient& operator=(const GrpcAuthorityClient&) = delete;

  void ValidateToken(const Digest& digest, ValidateCallback done) override;
  void ResolveResource(ResourceKind kind, absl::string_view id,
                       ResolveCallback done) override;
  absl::Status ReportUsage(absl::Span<const UsageRecord> records) override;
  absl::Status ReportUsageWithCounts(
      absl::Span<const UsageRecord> records,
      absl::Span<const UsageCountRecord> counts) override;
  std::unique_ptr<WatchStream> Watch(int64_t since_revision,
                                     bool directory_only) override;

  struct Impl;  // implementation (gRPC stub, calls in flight, metrics)

 private:
  explicit GrpcAuthorityClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_GRPC_AUTHORITY_CLIENT_H_
