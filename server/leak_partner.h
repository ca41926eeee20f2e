#ifndef PAT_SERVER_LEAK_PARTNER_H_
#define PAT_SERVER_LEAK_PARTNER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "server/leak_judge.h"
#include "server/leak_signature.h"

// One secret-scanning partner request, after the HTTP edge has read it
// (server/leak_http_server.h), as a pipeline:
//   1. signature: the key id and signature headers verify the raw body
//      (LeakKeyring) — else 401 and nothing is parsed or looked up;
//   2. parse: a JSON array of 1..kMaxLeakCandidates objects with a string
//      "token" and optional string "type", "url", "source" — else 400;
//   3. judge (LeakJudge, reporter "github") — a storage error is 503 so the
//      sender retries (already revoked tokens answer the same on a retry);
//   4. answer: [{"token_raw","token_type","label"}] in request order, label
//      "true_positive" or "false_positive". token_raw is the string the
//      sender reported (the program requires the echo; it is sent back only
//      to the verified sender, over the connection it came on).
// Error bodies are {"message": "..."} and never contain request content.
namespace pat {

struct PartnerReply {
  int status = 200;
  std::string body;  // JSON
};

class LeakPartnerHandler {
 public:
  // Both must outlive the handler.
  LeakPartnerHandler(const LeakKeyring& keys, LeakJudge& judge)
      : keys_(keys), judge_(judge) {}

  // Blocking (database); called off the event loop. Thread-safe.
  PartnerReply Handle(absl::string_view key_id, absl::string_view signature,
                      absl::string_view body);

 private:
  const LeakKeyring& keys_;
  LeakJudge& judge_;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_PARTNER_H_
