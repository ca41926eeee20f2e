#ifndef PAT_SERVER_LEAK_JUDGE_H_
#define PAT_SERVER_LEAK_JUDGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "server/leak_metrics.h"
#include "server/leak_store.h"
#include "server/token_store.h"

// The decision for reported leak candidates, shared by the gRPC
// ReportLeakedSecrets and the secret-scanning partner endpoint:
//   1. offline: shape and checksum (ParseSecret); a failure is a false
//      positive and costs no database lookup;
//   2. lookup by SHA-256 digest: no token has it → false positive;
//   3. the secret no longer works (token revoked or expired, or a previous
//      secret past its overlap) → true positive, nothing written;
//   4. the plan's leak policy: "revoke" → TokenStore::MutateToken revokes
//      the token (token row, every secret ended, audit "revoke" and grant
//      feed event in one transaction); "flag" → audit "leak_flagged" only.
// Audit details are {"reason":"leaked","source","url","type"} from the
// report, with secret-shaped substrings redacted, control characters and
// invalid UTF-8 replaced, each cut to kMaxLeakFieldBytes. The secret itself
// is never logged, stored or returned.
namespace pat {

inline constexpr int kMaxLeakCandidates = 1000;
inline constexpr int kMaxLeakTokenBytes = 256;
inline constexpr int kMaxLeakFieldBytes = 2048;

struct LeakCandidate {
  std::string token;
  std::string type;
  std::string url;
  std::string source;
};

enum class LeakVerdict { kTruePositive, kFalsePositive };
enum class LeakAction { kNone, kRevoked, kFlagged };

struct LeakResult {
  LeakVerdict verdict = LeakVerdict::kFalsePositive;
  LeakAction action = LeakAction::kNone;
};

// "true_positive" or "false_positive" (the partner program's labels).
absl::string_view LeakVerdictLabel(LeakVerdict verdict);

// `s` made safe for an audit event: secret-shaped runs replaced by
// "[redacted]", bytes that are control characters or not valid UTF-8
// replaced by '?', cut to kMaxLeakFieldBytes.
std::string SanitizeLeakField(absl::string_view s);

class LeakJudge {
 public:
  // Everything must outlive the judge.
  LeakJudge(TokenStore& tokens, LeakStore& leaks, const Clock& clock,
            LeakMetrics& metrics)
      : tokens_(tokens), leaks_(leaks), clock_(clock), metrics_(metrics) {}

  // Judges each candidate in order (a secret reported twice is acted on
  // once). `reporter` names the source of the report in the audit actor
  // "leak-intake:<reporter>". A storage error stops the batch and is
  // returned (UNAVAILABLE/ABORTED: the report may be retried; what was
  // already revoked stays revoked and is answered the same way).
  absl::StatusOr<std::vector<LeakResult>> Judge(
      const std::vector<LeakCandidate>& candidates,
      absl::string_view reporter);

 private:
  absl::StatusOr<LeakResult> JudgeOne(const LeakCandidate& candidate,
                                      const std::string& actor);
  absl::StatusOr<LeakAction> Act(const Token& token,
                                 const LeakCandidate& candidate,
                                 const std::string& actor, absl::Time now);

  TokenStore& tokens_;
  LeakStore& leaks_;
  const Clock& clock_;
  LeakMetrics& metrics_;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_JUDGE_H_
