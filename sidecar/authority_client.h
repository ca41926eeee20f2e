#ifndef PAT_SIDECAR_AUTHORITY_CLIENT_H_
#define PAT_SIDECAR_AUTHORITY_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/domain.h"
#include "common/secret.h"
#include "sidecar/grant.h"
#include "sidecar/metrics.h"

// The sidecar's gRPC client of pat.v1.IntrospectionService (SPEC §4, §6).
//
// This file and authority_client.cc are the only place where pat.v1 protos
// meet the sidecar's domain types: every RPC takes and returns domain types.
// Conversions are total and fail closed: an enum value the sidecar does not
// know becomes kUnspecified (an unknown status is never "active", an unknown
// kind never matches the API), a missing or out-of-range token expiry is
// InfinitePast() (expired), a digest that is not 32 bytes is dropped.
//
// Never logs, and never puts into a status message or metric, a digest.
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

// ValidateToken's answer.
struct ValidateResult {
  // False when no token has a secret with the digest.
  bool found = false;
  Grant grant;  // when found
  // When this particular secret stops working; the token's expiry when the
  // authority did not say.
  absl::Time secret_expire_time = absl::InfinitePast();
};

// ResolveResource's answer for a resource the directory knows.
struct ResolvedChain {
  std::string plan_id;
  // The resource itself first, then its parent, up to the root.
  std::vector<Resource> chain;
};

struct UsageRecord {
  std::string token_id;
  absl::Time last_used_time = absl::InfinitePast();
  std::string client_ip;
};

// One message of the WatchGrants stream, converted.
struct WatchMessage {
  enum class Type { kEvent, kSynced, kHeartbeat, kUnknown };
  enum class Change {
    kNone,
    kGrant,
    kResourceUpserted,
    kResourceDeleted,
    kPlanUpserted,
  };
  Type type = Type::kUnknown;
  // kEvent: the event's revision; kSynced: synced_revision; kHeartbeat:
  // heartbeat_revision.
  int64_t revision = 0;
  // kEvent: part of a snapshot.
  bool snapshot = false;
  Change change = Change::kNone;
  GrantUpdate grant;  // kGrant
  Resource resource;  // kResourceUpserted / kResourceDeleted
  Plan plan;          // kPlanUpserted
};

// One WatchGrants call. Next() and Finish() are called by one thread (the
// watcher); Cancel() may be called from any thread at any time.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks for the next message; false at the end of the stream (then call
  // Finish() once).
  virtual bool Next(WatchMessage* message) = 0;
  // Makes a blocked or later Next() return false promptly.
  virtual void Cancel() = 0;
  // The stream's final status (OK when the server ended it cleanly).
  virtual absl::Status Finish() = 0;
};

// Thread-safe: every method may be called concurrently.
class AuthorityClient {
 public:
  // Builds the channel (it connects lazily). INVALID_ARGUMENT when the
  // target is empty or TLS material is inconsistent. `metrics` must outlive
  // the client.
  static absl::StatusOr<std::unique_ptr<AuthorityClient>> Create(
      const AuthorityClientConfig& config, MetricsRegistry& metrics);

  ~AuthorityClient();
  AuthorityClient(const AuthorityClient&) = delete;
  AuthorityClient& operator=(const AuthorityClient&) = delete;

  // Sends only the digest. UNAVAILABLE / DEADLINE_EXCEEDED / ... when the
  // authority cannot answer within rpc_timeout.
  absl::StatusOr<ValidateResult> ValidateToken(const Digest& digest);

  // The resource's plan and ancestor chain. NOT_FOUND when the directory
  // does not know the resource (or answered with an empty chain); other
  // errors when the authority cannot answer within rpc_timeout.
  absl::StatusOr<ResolvedChain> ResolveResource(ResourceKind kind,
                                                absl::string_view id);

  absl::Status ReportUsage(absl::Span<const UsageRecord> records);

  // Starts WatchGrants(since_revision). Never null; connection errors show
  // up as Next() == false and a non-OK Finish().
  std::unique_ptr<WatchStream> Watch(int64_t since_revision);

  struct Impl;  // implementation (gRPC stub and metrics)

 private:
  explicit AuthorityClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_AUTHORITY_CLIENT_H_
