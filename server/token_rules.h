#ifndef PAT_SERVER_TOKEN_RULES_H_
#define PAT_SERVER_TOKEN_RULES_H_

// Pure checks and formatting shared by the authority's components
// (TokenLifecycle, PlanDirectory, TokenIntrospection, AccessChecker): field
// validation, the audited JSON view of a token, R1/R2 for one plan state and
// the revoke mutation (R10). No storage, no clock, no I/O.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "common/secret.h"
#include "nlohmann/json.hpp"
#include "server/token_store.h"
#include "server/token_types.h"

namespace pat::token_rules {

inline constexpr int kMaxRequestIdLength = 128;
inline constexpr int kMaxIdLength = 128;
inline constexpr int kMaxPlanNameLength = 256;
// The actor of changes no user made (the tier-downgrade sweep).
inline constexpr absl::string_view kSystemActor = "system";

// Times are kept at microsecond precision, as stored.
absl::Time TruncateToMicros(absl::Time t);
// Number of UTF-8 code points; -1 if `s` is not valid UTF-8 text without
// control characters.
int TextLength(absl::string_view s);
// INVALID_ARGUMENT "<field>: ..." unless `value` is text of min..max code
// points.
absl::Status ValidateText(absl::string_view field, absl::string_view value,
                          int min_len, int max_len);
// 1..kMaxIdLength characters of [A-Za-z0-9_.:@-].
absl::Status ValidateId(absl::string_view field, absl::string_view id);
// Empty, or at most 128 characters of [A-Za-z0-9._:-].
absl::Status ValidateRequestId(absl::string_view request_id);
absl::Status ValidateTokenIdField(absl::string_view token_id);
std::string Rfc3339(absl::Time t);
// The audited view of a token: everything but volatile usage fields. Never
// contains a secret (the domain Token has none).
nlohmann::json TokenJson(const Token& t);
// Digest of a request's parameters, to tell a retry from a reuse of a
// request_id for something else.
Digest ParamsDigest(const std::vector<std::string>& parts);
// PERMISSION_DENIED, the same for "no such plan" and "not an admin".
absl::Status PermissionDenied();
std::string StatusError(TokenStatus status);
// Narrower kinds rank lower (file 1 .. workspace 4; others 0).
int ResourceRank(ResourceKind k);
// The 16-hex-digit tag binding a page token to its query's filters.
std::string FilterTag(absl::string_view text);
// kDefaultPageSize for 0; INVALID_ARGUMENT outside 0..kMaxPageSize.
absl::StatusOr<int> PageSize(int requested);
// RFC 9110 token characters (an HTTP method is a token).
bool IsTchar(char c);
// An IPv4 or IPv6 literal; IPv6 may carry a zone ("fe80::1%eth0").
bool IsIpLiteral(absl::string_view ip);
// R1 and R2 for one plan state: the pre-check before the write and the
// re-check inside the write's transaction use these same functions.
absl::Status TierForbidsTokens(PlanTier tier);
absl::Status CheckPlanAccess(const std::string& actor, const Plan& plan,
                             TierRule tier_rule);
// R10: revoking ends every secret at `now`; revoking a revoked token changes
// nothing. `reason`, when not empty, is recorded in the audit details.
TokenMutation RevokeMutation(const Token& current, const std::string& actor,
                             absl::Time now, absl::string_view reason);

}  // namespace pat::token_rules

#endif  // PAT_SERVER_TOKEN_RULES_H_
