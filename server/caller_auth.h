#ifndef PAT_SERVER_CALLER_AUTH_H_
#define PAT_SERVER_CALLER_AUTH_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "grpcpp/server_context.h"
#include "server/authority_config.h"

// Per-RPC caller authentication and authorization (SPEC §4).
//
// In mTLS mode the transport has already verified the client certificate
// against the configured CA (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_
// AND_VERIFY). The caller's identity is a subject alternative name of that
// certificate (auth context property "x509_subject_alternative_name"),
// compared byte for byte with the identities of the callers config; the
// certificate's common name is never used. A certificate whose SANs match
// several configured identities gets the union of their roles.
//
// The actor (the plan admin's user id on whose behalf a TokenService RPC is
// made) comes from the `x-pat-actor` metadata and is honoured only for
// callers holding the admin role; for anyone else it is ignored. In insecure
// mode (local development and tests) every caller holds every role and the
// actor is always taken from the metadata.
namespace pat {

inline constexpr absl::string_view kActorMetadataKey = "x-pat-actor";
inline constexpr int kMaxActorLength = 128;

// The authenticated caller of one RPC.
struct Caller {
  // The matched certificate SAN; "insecure" in insecure mode.
  std::string identity;
  std::set<CallerRole> roles;
  // The asserted actor; empty when none was given or it is not honoured.
  std::string actor;
};

// The fully qualified service a role grants, e.g. "pat.v1.TokenService".
absl::string_view ServiceForRole(CallerRole role);

// Thread-safe and immutable after construction.
class CallerAuth {
 public:
  // Every caller allowed; actor from metadata.
  static std::unique_ptr<CallerAuth> Insecure();
  // Callers identified by certificate SAN -> roles.
  static std::unique_ptr<CallerAuth> Mtls(
      std::map<std::string, std::set<CallerRole>> callers);

  // Authorizes the caller of the RPC in `context` for a service that needs
  // `needed`. PERMISSION_DENIED "caller is not allowed to use <service>" when
  // the caller lacks the role (or has no configured identity),
  // UNAUTHENTICATED when the peer is not authenticated or when an honoured
  // `x-pat-actor` value is malformed (not 1..128 printable ASCII characters,
  // or given more than once). A missing actor is not an error here: the
  // returned actor is empty and the token manager answers UNAUTHENTICATED.
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase* context,
                                   CallerRole needed) const;

  // The decision of Authorize from already extracted inputs: whether the
  // peer is authenticated, its SANs, and every `x-pat-actor` value sent.
  // Exposed for tests.
  absl::StatusOr<Caller> AuthorizePeer(bool peer_authenticated,
                                       absl::Span<const std::string> sans,
                                       absl::Span<const std::string> actors,
                                       CallerRole needed) const;

  // For the access log (never for decisions): the configured identity among
  // the peer's SANs, else "unconfigured:<first SAN>" ("unauthenticated"
  // without one), or "insecure".
  std::string IdentityForLog(const grpc::ServerContextBase& context) const;
  // For the access log: the first x-pat-actor value, at most
  // kMaxActorLength bytes, non-printable bytes replaced by '?'; "" if none.
  static std::string AssertedActorForLog(
      const grpc::ServerContextBase& context);

  bool insecure() const { return insecure_; }

 private:
  CallerAuth(bool insecure, std::map<std::string, std::set<CallerRole>> callers)
      : insecure_(insecure), callers_(std::move(callers)) {}

  const bool insecure_;
  const std::map<std::string, std::set<CallerRole>> callers_;
};

}  // namespace pat

#endif  // PAT_SERVER_CALLER_AUTH_H_
