#include "server/caller_auth.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"

namespace pat {
namespace {

constexpr absl::string_view kInsecureIdentity = "insecure";

bool IsValidActor(absl::string_view actor) {
  if (actor.empty() || actor.size() > static_cast<size_t>(kMaxActorLength)) {
    return false;
  }
  for (char c : actor) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<std::string> ActorFrom(absl::Span<const std::string> actors) {
  if (actors.empty()) return std::string();
  if (actors.size() > 1) {
    return absl::UnauthenticatedError(
        absl::StrCat(kActorMetadataKey, ": must be given at most once"));
  }
  if (!IsValidActor(actors[0])) {
    return absl::UnauthenticatedError(
        absl::StrCat(kActorMetadataKey, ": must be 1 to ", kMaxActorLength,
                     " printable ASCII characters"));
  }
  return actors[0];
}

}  // namespace

absl::string_view ServiceForRole(CallerRole role) {
  switch (role) {
    case CallerRole::kAdmin:
      return "pat.v1.TokenService";
    case CallerRole::kPlatform:
      return "pat.v1.DirectoryService";
    case CallerRole::kSidecar:
      return "pat.v1.IntrospectionService";
  }
  return "an unknown service";
}

std::unique_ptr<CallerAuth> CallerAuth::Insecure() {
  return std::unique_ptr<CallerAuth>(new CallerAuth(true, {}));
}

std::unique_ptr<CallerAuth> CallerAuth::Mtls(
    std::map<std::string, std::set<CallerRole>> callers) {
  return std::unique_ptr<CallerAuth>(new CallerAuth(false, std::move(callers)));
}

absl::StatusOr<Caller> CallerAuth::Authorize(
    const grpc::ServerContextBase* context, CallerRole needed) const {
  std::vector<std::string> actors;
  const auto& metadata = context->client_metadata();
  auto [begin, end] = metadata.equal_range(
      grpc::string_ref(kActorMetadataKey.data(), kActorMetadataKey.size()));
  for (auto it = begin; it != end; ++it) {
    actors.emplace_back(it->second.data(), it->second.size());
  }
  if (insecure_) return AuthorizePeer(false, {}, actors, needed);

  std::vector<std::string> sans;
  bool authenticated = false;
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth != nullptr) {
    authenticated = auth->IsPeerAuthenticated();
    for (const grpc::string_ref& san :
         auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
      sans.emplace_back(san.data(), san.size());
    }
  }
  return AuthorizePeer(authenticated, sans, actors, needed);
}

absl::StatusOr<Caller> CallerAuth::AuthorizePeer(
    bool peer_authenticated, absl::Span<const std::string> sans,
    absl::Span<const std::string> actors, CallerRole needed) const {
  Caller caller;
  if (insecure_) {
    caller.identity = std::string(kInsecureIdentity);
    caller.roles = {CallerRole::kAdmin, CallerRole::kPlatform,
                    CallerRole::kSidecar};
  } else {
    if (!peer_authenticated) {
      return absl::UnauthenticatedError("a client certificate is required");
    }
    for (const std::string& san : sans) {
      auto it = callers_.find(san);
      if (it == callers_.end()) continue;
      if (caller.identity.empty()) caller.identity = san;
      caller.roles.insert(it->second.begin(), it->second.end());
    }
  }
  if (!caller.roles.contains(needed)) {
    return absl::PermissionDeniedError(
        absl::StrCat("caller is not allowed to use ", ServiceForRole(needed)));
  }
  if (caller.roles.contains(CallerRole::kAdmin)) {
    absl::StatusOr<std::string> actor = ActorFrom(actors);
    if (!actor.ok()) return actor.status();
    caller.actor = *std::move(actor);
  }
  return caller;
}

std::string CallerAuth::IdentityForLog(
    const grpc::ServerContextBase& context) const {
  if (insecure_) return std::string(kInsecureIdentity);
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return "unauthenticated";
  }
  std::string first;
  for (const grpc::string_ref& ref :
       auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
    std::string san(ref.data(), ref.size());
    if (callers_.contains(san)) return san;
    if (first.empty()) first = std::move(san);
  }
  if (first.empty()) return "unauthenticated";
  if (first.size() > 256) first.resize(256);
  return absl::StrCat("unconfigured:", first);
}

std::string CallerAuth::AssertedActorForLog(
    const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(
      grpc::string_ref(kActorMetadataKey.data(), kActorMetadataKey.size()));
  if (it == metadata.end()) return "";
  std::string actor(it->second.data(),
                    std::min<size_t>(it->second.size(), kMaxActorLength));
  for (char& c : actor) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return actor;
}

}  // namespace pat
