#ifndef PAT_SERVER_PROTO_CONVERT_H_
#define PAT_SERVER_PROTO_CONVERT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "google/protobuf/timestamp.pb.h"
#include "pat/v1/pat.pb.h"
#include "proto/convert/proto_convert.h"
#include "server/token_types.h"

// Conversion between pat.v1 protobuf messages and the domain structs of
// common/domain.h and server/token_types.h. This is the only place where
// proto types and domain types meet: services call these functions, the
// components never see a proto.
//
// Domain -> proto conversions are total. Proto -> domain conversions check
// only what the proto type system cannot (open enums holding values outside
// the declared range, timestamps outside the representable range, field mask
// paths) and fail INVALID_ARGUMENT naming the field; domain rules (required
// fields, lengths, scopes, links) are the components' job.
namespace pat {

// Enums and Timestamp: the shared, strict forms of
// proto/convert/proto_convert.h (PlanTierFromProto(value, field), ...,
// TimeToProto, TimeFromProto(ts, field)).

// --- Messages: domain -> proto ----------------------------------------------
void PlanToProto(const Plan& plan, v1::Plan* out);
void ResourceToProto(const Resource& resource, v1::Resource* out);
void TokenResourceToProto(const TokenResource& resource,
                          v1::TokenResource* out);
// `status` is the token's status at the time of the response (computed by the
// caller, e.g. StatusAt(token, lifecycle.Now())). Never writes a secret or a
// digest: domain Tokens hold neither.
void TokenToProto(const Token& token, TokenStatus status, v1::Token* out);
void AuditEventToProto(const AuditEvent& event, v1::AuditEvent* out);
// What a sidecar needs to enforce `token`, given its current status.
void GrantToProto(const Token& token, TokenStatus status, v1::Grant* out);
// A feed event for a grant: `grant` (status computed at `now`) and one
// SecretState per secret, whose expire_time is the secret's valid_until (the
// token's expiry for the current secret), never after the token's expiry nor
// after its revoke time. Sets `grant` and `secrets` only (not `revision`).
void GrantRecordToProto(const GrantRecord& grant, absl::Time now,
                        v1::GrantEvent* out);

// --- Messages: proto -> domain ----------------------------------------------
// `field` prefixes error messages (e.g. "plan" -> "plan.tier: ...").
absl::StatusOr<Plan> PlanFromProto(const v1::Plan& plan,
                                   absl::string_view field);
absl::StatusOr<Resource> ResourceFromProto(const v1::Resource& resource,
                                           absl::string_view field);

// --- Requests -> component parameters ---------------------------------------
absl::StatusOr<CreateTokenParams> CreateTokenParamsFromProto(
    const v1::CreateTokenRequest& request);
// Mask paths must each be one of name, description, scopes, resources;
// otherwise INVALID_ARGUMENT "update_mask: unknown path X".
absl::StatusOr<UpdateTokenParams> UpdateTokenParamsFromProto(
    const v1::UpdateTokenRequest& request);
absl::StatusOr<ListTokensParams> ListTokensParamsFromProto(
    const v1::ListTokensRequest& request);
absl::StatusOr<CheckAccessParams> CheckAccessParamsFromProto(
    const v1::CheckAccessRequest& request);
// One UsageReport per record; a record without last_used_time gets
// InfinitePast (the component rejects it); an out-of-range timestamp is
// INVALID_ARGUMENT "records[i].last_used_time: ...".
absl::StatusOr<std::vector<UsageReport>> UsageReportsFromProto(
    const v1::ReportUsageRequest& request);

}  // namespace pat

#endif  // PAT_SERVER_PROTO_CONVERT_H_
