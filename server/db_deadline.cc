#include "server/db_deadline.h"

#include "grpc/support/time.h"
#include "grpcpp/server.h"
#include "grpcpp/server_context.h"

namespace pat {
namespace {

thread_local std::optional<absl::Time> current_deadline;

std::optional<absl::Time> DeadlineOf(const grpc::ServerContextBase* context) {
  if (context == nullptr) return std::nullopt;
  gpr_timespec raw = context->raw_deadline();
  if (gpr_time_cmp(raw, gpr_inf_future(raw.clock_type)) == 0) {
    return std::nullopt;
  }
  raw = gpr_convert_clock_type(raw, GPR_CLOCK_REALTIME);
  return absl::FromUnixNanos(static_cast<int64_t>(raw.tv_sec) * 1000000000 +
                             raw.tv_nsec);
}

class DeadlineCallbacks final : public grpc::Server::GlobalCallbacks {
 public:
  void PreSynchronousRequest(grpc::ServerContext* context) override {
    current_deadline = DeadlineOf(context);
  }
  void PostSynchronousRequest(grpc::ServerContext*) override {
    current_deadline.reset();
  }
};

// grpc::Server::SetGlobalCallbacks must run before the first grpc::Server is
// constructed (it asserts otherwise), hence at static initialization; gRPC's
// callback holder is constant-initialized, so this is safe at that time.
const bool kInstalled = [] {
  grpc::Server::SetGlobalCallbacks(new DeadlineCallbacks());
  return true;
}();

}  // namespace

std::optional<absl::Time> CurrentDbDeadline() {
  (void)kInstalled;
  return current_deadline;
}

ScopedDbDeadline::ScopedDbDeadline(std::optional<absl::Time> deadline)
    : previous_(current_deadline) {
  current_deadline = deadline;
}

ScopedDbDeadline::~ScopedDbDeadline() { current_deadline = previous_; }

std::optional<absl::Time> RpcDeadline(const grpc::ServerContextBase& context) {
  return DeadlineOf(&context);
}

}  // namespace pat
