#ifndef PAT_CLI_SESSION_H_
#define PAT_CLI_SESSION_H_

// Session: what every command handler needs (the stubs of one channel, the
// actor, the RPC deadline, the output mode and which flags were given).
// Built by OpenSession (cli/connection.h).

#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/leak_intake.grpc.pb.h"
#include "pat/v1/webhooks.grpc.pb.h"

namespace pat::patctl {

class Session {
 public:
  Session(std::shared_ptr<grpc::Channel> channel, std::string actor,
          absl::Duration timeout, std::string output,
          absl::flat_hash_set<std::string> given)
      : tokens_(v1::TokenService::NewStub(channel)),
        directory_(v1::DirectoryService::NewStub(channel)),
        introspection_(v1::IntrospectionService::NewStub(channel)),
        webhooks_(v1::WebhookService::NewStub(channel)),
        leaks_(v1::LeakIntakeService::NewStub(channel)),
        actor_(std::move(actor)),
        timeout_(timeout),
        json_(output == "json"),
        aligned_(output == "table" ||
                 (output == "text" && isatty(STDOUT_FILENO) == 1)),
        given_(std::move(given)) {}

  v1::TokenService::Stub& tokens() { return *tokens_; }
  v1::DirectoryService::Stub& directory() { return *directory_; }
  v1::IntrospectionService::Stub& introspection() { return *introspection_; }
  v1::WebhookService::Stub& webhooks() { return *webhooks_; }
  v1::LeakIntakeService::Stub& leaks() { return *leaks_; }
  bool json() const { return json_; }
  // Tables: aligned with a header (terminal) or tab-separated (piped).
  bool aligned() const { return aligned_; }
  bool Given(absl::string_view flag) const { return given_.contains(flag); }
  const absl::flat_hash_set<std::string>& given() const { return given_; }

  // Sets the deadline; `as_actor` adds x-pat-actor. Only TokenService calls
  // carry the actor: the authority lets only admin callers assert one.
  void Prepare(grpc::ClientContext& ctx, bool as_actor) const {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    if (as_actor && !actor_.empty()) ctx.AddMetadata("x-pat-actor", actor_);
  }

 private:
  std::unique_ptr<v1::TokenService::Stub> tokens_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
  std::unique_ptr<v1::IntrospectionService::Stub> introspection_;
  std::unique_ptr<v1::WebhookService::Stub> webhooks_;
  std::unique_ptr<v1::LeakIntakeService::Stub> leaks_;
  std::string actor_;
  absl::Duration timeout_;
  bool json_;
  bool aligned_;
  absl::flat_hash_set<std::string> given_;
};

// Where the channel goes, for the hint after a connection failure
// (RpcError). Set by OpenSession.
struct ConnectionTarget {
  std::string authority;
  bool insecure = false;
};
inline ConnectionTarget& Target() {
  static ConnectionTarget target;
  return target;
}

}  // namespace pat::patctl

#endif  // PAT_CLI_SESSION_H_
