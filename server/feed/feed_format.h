#ifndef PAT_SERVER_FEED_FEED_FORMAT_H_
#define PAT_SERVER_FEED_FEED_FORMAT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "pat/v1/pat.pb.h"
#include "server/token_store.h"

// The change feed's event format (grant_events.type and .payload, JSON), the
// one place that writes and reads it (SPEC §6):
//   "grant":  {"token_id", "plan_id", "kind": "rest_api"|"npm_registry",
//              "scopes": [..], "all_resources": bool,
//              "resources": [{"kind", "id", "link"}], "expire_time_us": int,
//              "revoke_time_us": int|null,
//              "secrets": [{"sha256": hex, "valid_until_us": int|null}]}
//             (valid_until null: the current secret, bounded by the expiry)
//   "plan":   {"id", "name", "tier"}
//   "resource", "resource_delete":
//             {"plan_id", "kind", "id", "parent_kind", "parent_id", "name"}
// Kinds and tiers are the lower-case names of common/domain.h. Payloads carry
// secret digests, never secrets.
namespace pat::feed {

inline constexpr char kTypeGrant[] = "grant";
inline constexpr char kTypePlan[] = "plan";
inline constexpr char kTypeResource[] = "resource";
inline constexpr char kTypeResourceDelete[] = "resource_delete";

// One event to append: its type, key (token id, plan id, "kind:id") and
// payload JSON text.
struct EncodedEvent {
  std::string type;
  std::string key;
  std::string payload_json;
};

// A token's secret as the grant payload carries it (digest as lower-case
// hex, as stored).
struct SecretDigestRow {
  std::string sha256_hex;
  std::optional<absl::Time> valid_until;
};

EncodedEvent EncodeGrant(const Token& token,
                         const std::vector<SecretDigestRow>& secrets);
EncodedEvent EncodePlan(const Plan& plan);
// `deleted`: a resource_delete event (only plan_id, kind and id matter).
EncodedEvent EncodeResource(const Resource& resource, bool deleted);

// Fills `event` (revision not set) from a row. INVALID_ARGUMENT for an
// unknown type or a payload of the wrong shape (never throws). The grant's
// status is computed at `now`.
absl::Status DecodeEvent(const FeedEventRow& row, absl::Time now,
                         v1::GrantEvent& event);

}  // namespace pat::feed

#endif  // PAT_SERVER_FEED_FEED_FORMAT_H_
