#ifndef PAT_SIDECAR_AUTHORITY_CLIENT_H_
#define PAT_SIDECAR_AUTHORITY_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/domain.h"
#include "common/secret.h"
#include "sidecar/grant.h"

// The sidecar's client of pat.v1.IntrospectionService (SPEC §4, §6), as an
// interface over domain types: the gRPC implementation
// (grpc_authority_client.{h,cc}) is the only place where pat.v1 protos meet
// the sidecar's domain types. Conversions are total and fail closed: an
// enum value the sidecar does not know becomes kUnspecified (an unknown
// status is never "active", an unknown kind never matches the API), a
// missing or out-of-range token expiry is InfinitePast() (expired), a digest
// that is not 32 bytes is dropped.
//
// Never logs, and never puts into a status message or metric, a digest.
namespace pat::sidecar {

// ValidateToken's answer.
struct ValidateResult {
  // False when no token has a secret with the digest.
  bool found = false;
  Grant grant;  // when found
  // When this particular secret stops working; the token's expiry when the
  // authority did not say.
  absl::Time secret_expire_time = absl::InfinitePast();
  // The feed revision the answer reflects (0: the authority did not say).
  int64_t revision = 0;
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

// Allowed requests of one usage key in a flush interval (the least-privilege
// report, pat.v1.UsageCount).
struct UsageResourceChain {
  ResourceKind kind = ResourceKind::kUnspecified;
  std::string id;
  // Nearest first.
  std::vector<std::pair<ResourceKind, std::string>> ancestors;
};
struct UsageCountRecord {
  enum class Need { kNone = 1, kAll = 2, kListed = 3 };
  std::string token_id;
  std::string endpoint;  // catalog operation id
  std::vector<std::string> satisfying_scopes;  // sorted
  Need need = Need::kNone;
  std::vector<UsageResourceChain> resources;  // kListed, sorted by (kind, id)
  int64_t count = 0;
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

using ValidateCallback =
    absl::AnyInvocable<void(absl::StatusOr<ValidateResult>) &&>;
using ResolveCallback =
    absl::AnyInvocable<void(absl::StatusOr<ResolvedChain>) &&>;

// The sidecar's view of the authority. Implementations: GrpcAuthorityClient
// (grpc_authority_client.h) and test fakes.
//
// Thread-safe: every method may be called concurrently. The request-path
// calls (ValidateToken, ResolveResource) never block the caller: `done` runs
// exactly once, normally later on an implementation thread (it may run
// inline when the call fails before it starts, e.g. during shutdown), with
// no lock of the client held, and must not block. Destroying the client
// cancels the calls in flight and waits for their callbacks to return.
class AuthorityClient {
 public:
  virtual ~AuthorityClient() = default;

  // Sends only the digest. UNAVAILABLE / DEADLINE_EXCEEDED / ... when the
  // authority cannot answer within its deadline.
  virtual void ValidateToken(const Digest& digest, ValidateCallback done) = 0;

  // The resource's plan and ancestor chain. NOT_FOUND when the directory
  // does not know the resource (or answered with an empty chain); other
  // errors when the authority cannot answer within its deadline.
  virtual void ResolveResource(ResourceKind kind, absl::string_view id,
                               ResolveCallback done) = 0;

  // Blocking (the usage reporter calls it from its own thread).
  virtual absl::Status ReportUsage(absl::Span<const UsageRecord> records) = 0;
  // One ReportUsage call with records and counts. Blocking.
  virtual absl::Status ReportUsageWithCounts(
      absl::Span<const UsageRecord> records,
      absl::Span<const UsageCountRecord> counts) = 0;

  // Starts WatchGrants(since_revision); `directory_only`: a snapshot without
  // grant records (the used-only cache mode). Never null; connection errors
  // show up as Next() == false and a non-OK Finish().
  virtual std::unique_ptr<WatchStream> Watch(int64_t since_revision,
                                             bool directory_only) = 0;
};

// Blocking conveniences over the asynchronous calls, for tools and tests
// only (never on an event loop).
absl::StatusOr<ValidateResult> ValidateTokenSync(AuthorityClient& client,
                                                 const Digest& digest);
absl::StatusOr<ResolvedChain> ResolveResourceSync(AuthorityClient& client,
                                                  ResourceKind kind,
                                                  absl::string_view id);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_AUTHORITY_CLIENT_H_
