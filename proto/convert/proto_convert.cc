#include "proto/convert/proto_convert.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pat {
namespace {

// Timestamp's documented range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

absl::Status UnknownEnumValue(absl::string_view field, int value) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": unknown value ", value));
}

template <typename T>
absl::StatusOr<T> Strict(std::optional<T> value, int raw,
                         absl::string_view field) {
  if (!value.has_value()) return UnknownEnumValue(field, raw);
  return *value;
}

// The domain name of a proto value, through its domain form.
template <typename Domain, typename Proto>
std::optional<absl::string_view> NameOf(std::optional<Domain> (*from)(int),
                                        absl::string_view (*name)(Domain),
                                        Proto value) {
  const std::optional<Domain> d = from(static_cast<int>(value));
  if (!d.has_value() || *d == Domain::kUnspecified) return std::nullopt;
  return name(*d);
}

}  // namespace

v1::PlanTier PlanTierToProto(PlanTier tier) {
  switch (tier) {
    case PlanTier::kStarter:
      return v1::PLAN_TIER_STARTER;
    case PlanTier::kProfessional:
      return v1::PLAN_TIER_PROFESSIONAL;
    case PlanTier::kOrganization:
      return v1::PLAN_TIER_ORGANIZATION;
    case PlanTier::kEnterprise:
      return v1::PLAN_TIER_ENTERPRISE;
    case PlanTier::kUnspecified:
      break;
  }
  return v1::PLAN_TIER_UNSPECIFIED;
}

v1::TokenKind TokenKindToProto(TokenKind kind) {
  switch (kind) {
    case TokenKind::kRestApi:
      return v1::TOKEN_KIND_REST_API;
    case TokenKind::kNpmRegistry:
      return v1::TOKEN_KIND_NPM_REGISTRY;
    case TokenKind::kUnspecified:
      break;
  }
  return v1::TOKEN_KIND_UNSPECIFIED;
}

v1::TokenStatus TokenStatusToProto(TokenStatus status) {
  switch (status) {
    case TokenStatus::kActive:
      return v1::TOKEN_STATUS_ACTIVE;
    case TokenStatus::kExpired:
      return v1::TOKEN_STATUS_EXPIRED;
    case TokenStatus::kRevoked:
      return v1::TOKEN_STATUS_REVOKED;
    case TokenStatus::kUnspecified:
      break;
  }
  return v1::TOKEN_STATUS_UNSPECIFIED;
}

v1::ResourceKind ResourceKindToProto(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kFile:
      return v1::RESOURCE_KIND_FILE;
    case ResourceKind::kProject:
      return v1::RESOURCE_KIND_PROJECT;
    case ResourceKind::kTeam:
      return v1::RESOURCE_KIND_TEAM;
    case ResourceKind::kWorkspace:
      return v1::RESOURCE_KIND_WORKSPACE;
    case ResourceKind::kNpmScope:
      return v1::RESOURCE_KIND_NPM_SCOPE;
    case ResourceKind::kUnspecified:
      break;
  }
  return v1::RESOURCE_KIND_UNSPECIFIED;
}

std::optional<PlanTier> PlanTierFromProtoValue(int value) {
  switch (value) {
    case v1::PLAN_TIER_UNSPECIFIED:
      return PlanTier::kUnspecified;
    case v1::PLAN_TIER_STARTER:
      return PlanTier::kStarter;
    case v1::PLAN_TIER_PROFESSIONAL:
      return PlanTier::kProfessional;
    case v1::PLAN_TIER_ORGANIZATION:
      return PlanTier::kOrganization;
    case v1::PLAN_TIER_ENTERPRISE:
      return PlanTier::kEnterprise;
    default:
      return std::nullopt;
  }
}

std::optional<TokenKind> TokenKindFromProtoValue(int value) {
  switch (value) {
    case v1::TOKEN_KIND_UNSPECIFIED:
      return TokenKind::kUnspecified;
    case v1::TOKEN_KIND_REST_API:
      return TokenKind::kRestApi;
    case v1::TOKEN_KIND_NPM_REGISTRY:
      return TokenKind::kNpmRegistry;
    default:
      return std::nullopt;
  }
}

std::optional<TokenStatus> TokenStatusFromProtoValue(int value) {
  switch (value) {
    case v1::TOKEN_STATUS_UNSPECIFIED:
      return TokenStatus::kUnspecified;
    case v1::TOKEN_STATUS_ACTIVE:
      return TokenStatus::kActive;
    case v1::TOKEN_STATUS_EXPIRED:
      return TokenStatus::kExpired;
    case v1::TOKEN_STATUS_REVOKED:
      return TokenStatus::kRevoked;
    default:
      return std::nullopt;
  }
}

std::optional<ResourceKind> ResourceKindFromProtoValue(int value) {
  switch (value) {
    case v1::RESOURCE_KIND_UNSPECIFIED:
      return ResourceKind::kUnspecified;
    case v1::RESOURCE_KIND_FILE:
      return ResourceKind::kFile;
    case v1::RESOURCE_KIND_PROJECT:
      return ResourceKind::kProject;
    case v1::RESOURCE_KIND_TEAM:
      return ResourceKind::kTeam;
    case v1::RESOURCE_KIND_WORKSPACE:
      return ResourceKind::kWorkspace;
    case v1::RESOURCE_KIND_NPM_SCOPE:
      return ResourceKind::kNpmScope;
    default:
      return std::nullopt;
  }
}

absl::StatusOr<PlanTier> PlanTierFromProto(int value, absl::string_view field) {
  return Strict(PlanTierFromProtoValue(value), value, field);
}

absl::StatusOr<TokenKind> TokenKindFromProto(int value,
                                             absl::string_view field) {
  return Strict(TokenKindFromProtoValue(value), value, field);
}

absl::StatusOr<TokenStatus> TokenStatusFromProto(int value,
                                                 absl::string_view field) {
  return Strict(TokenStatusFromProtoValue(value), value, field);
}

absl::StatusOr<ResourceKind> ResourceKindFromProto(int value,
                                                   absl::string_view field) {
  return Strict(ResourceKindFromProtoValue(value), value, field);
}

void TimeToProto(absl::Time t, google::protobuf::Timestamp* out) {
  out->Clear();
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return;
  // ToUnixSeconds rounds toward negative infinity, so nanos is in [0, 1e9).
  const int64_t seconds = absl::ToUnixSeconds(t);
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) return;
  const int64_t nanos =
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds));
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(nanos));
}

std::optional<absl::Time> TimeFromProtoValue(
    const google::protobuf::Timestamp& ts) {
  if (ts.seconds() < kMinTimestampSeconds ||
      ts.seconds() > kMaxTimestampSeconds || ts.nanos() < 0 ||
      ts.nanos() >= 1000000000) {
    return std::nullopt;
  }
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

absl::StatusOr<absl::Time> TimeFromProto(const google::protobuf::Timestamp& ts,
                                         absl::string_view field) {
  if (ts.seconds() < kMinTimestampSeconds ||
      ts.seconds() > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": seconds out of range"));
  }
  if (ts.nanos() < 0 || ts.nanos() >= 1000000000) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": nanos must be in [0, 999999999]"));
  }
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::optional<absl::string_view> ProtoEnumName(v1::PlanTier value) {
  return NameOf(&PlanTierFromProtoValue, &PlanTierName, value);
}
std::optional<absl::string_view> ProtoEnumName(v1::TokenKind value) {
  return NameOf(&TokenKindFromProtoValue, &TokenKindName, value);
}
std::optional<absl::string_view> ProtoEnumName(v1::TokenStatus value) {
  return NameOf(&TokenStatusFromProtoValue, &TokenStatusName, value);
}
std::optional<absl::string_view> ProtoEnumName(v1::ResourceKind value) {
  return NameOf(&ResourceKindFromProtoValue, &ResourceKindName, value);
}

}  // namespace pat
