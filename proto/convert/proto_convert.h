#ifndef PAT_PROTO_CONVERT_PROTO_CONVERT_H_
#define PAT_PROTO_CONVERT_PROTO_CONVERT_H_

// The one conversion between the pat.v1 enums and Timestamp and the domain
// types of common/domain.h, shared by the authority (server/proto_convert.h,
// strict: a bad value is INVALID_ARGUMENT naming the field) and the sidecar
// (sidecar/grpc_authority_client.cc, total: a value it cannot read becomes
// kUnspecified or a caller-chosen time, which fails closed downstream).
//
// Domain -> proto is total: kUnspecified and infinite or unrepresentable
// times become *_UNSPECIFIED and an unset (cleared) Timestamp.
// Proto -> domain: *_UNSPECIFIED maps to kUnspecified; a value outside the
// declared enum (open enums can hold any int) or a Timestamp outside its
// documented range (0001-01-01 .. 9999-12-31, nanos in [0, 1e9)) is nullopt
// from the *FromProtoValue forms and INVALID_ARGUMENT
// "<field>: unknown value N" / "<field>: ... out of range" from the strict
// *FromProto forms.
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "google/protobuf/timestamp.pb.h"
#include "pat/v1/pat.pb.h"

namespace pat {

v1::PlanTier PlanTierToProto(PlanTier tier);
v1::TokenKind TokenKindToProto(TokenKind kind);
v1::TokenStatus TokenStatusToProto(TokenStatus status);
v1::ResourceKind ResourceKindToProto(ResourceKind kind);

std::optional<PlanTier> PlanTierFromProtoValue(int value);
std::optional<TokenKind> TokenKindFromProtoValue(int value);
std::optional<TokenStatus> TokenStatusFromProtoValue(int value);
std::optional<ResourceKind> ResourceKindFromProtoValue(int value);

absl::StatusOr<PlanTier> PlanTierFromProto(int value, absl::string_view field);
absl::StatusOr<TokenKind> TokenKindFromProto(int value,
                                             absl::string_view field);
absl::StatusOr<TokenStatus> TokenStatusFromProto(int value,
                                                 absl::string_view field);
absl::StatusOr<ResourceKind> ResourceKindFromProto(int value,
                                                   absl::string_view field);

// Names of pat.v1 enum values: the stable domain names of common/domain.h
// (PlanTierName(...) of the value's domain form). *_UNSPECIFIED and values
// outside the declared enum have no name (nullopt).
std::optional<absl::string_view> ProtoEnumName(v1::PlanTier value);
std::optional<absl::string_view> ProtoEnumName(v1::TokenKind value);
std::optional<absl::string_view> ProtoEnumName(v1::TokenStatus value);
std::optional<absl::string_view> ProtoEnumName(v1::ResourceKind value);

// Clears `out` for an infinite or unrepresentable time.
void TimeToProto(absl::Time t, google::protobuf::Timestamp* out);
std::optional<absl::Time> TimeFromProtoValue(
    const google::protobuf::Timestamp& ts);
absl::StatusOr<absl::Time> TimeFromProto(const google::protobuf::Timestamp& ts,
                                         absl::string_view field);

}  // namespace pat

#endif  // PAT_PROTO_CONVERT_PROTO_CONVERT_H_
