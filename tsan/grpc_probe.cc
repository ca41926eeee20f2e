// TSAN tree self-test of grpc_tsan_interpose.cc (tests tsan_grpc_probe_*).
//
//   tsan_grpc_probe clean    callback-API unary calls whose state is written
//                            before the call starts and read in the
//                            completion: must run with no report (it had 30+
//                            reports per run before the interposition).
//   tsan_grpc_probe MODE N   N calls instead of 50 (planted: 5).
//   tsan_grpc_probe planted  the same, but the starting thread writes the
//                            state again after starting the call, racing the
//                            completion's read: TSAN must report it, so the
//                            interposition cannot hide a real race.
//
// Real gRPC on loopback: an in-process async generic server that echoes
// each request, called through grpc::GenericStub's callback UnaryCall (the
// same grpc++ CallbackUnaryCallImpl the sidecar's ValidateToken uses).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

namespace {

// Answers every call with its own request, one call at a time, on one
// thread polling the server's completion queue (the async generic API, so
// the server side has no callback-API ordering of its own to model).
void ServeEcho(grpc::AsyncGenericService* service,
               grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  for (;;) {
    grpc::GenericServerContext context;
    grpc::GenericServerAsyncReaderWriter stream(&context);
    service->RequestCall(&context, &stream, cq, cq, &context);
    if (!cq->Next(&tag, &ok) || !ok) return;  // shut down
    grpc::ByteBuffer message;
    stream.Read(&message, &message);
    if (!cq->Next(&tag, &ok)) return;
    stream.WriteAndFinish(message, grpc::WriteOptions(), grpc::Status::OK,
                          &stream);
    if (!cq->Next(&tag, &ok)) return;
  }
}

struct CallState {
  std::atomic<bool> written{false};
  int value = 0;
  int seen = -1;
  grpc::Status status;
  absl::Notification done;
};

// One echo call; `planted` writes `value` after the call started.
bool CallOnce(grpc::GenericStub& stub, int i, bool planted) {
  auto state = std::make_shared<CallState>();
  grpc::ClientContext context;
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  state->value = i;
  stub.UnaryCall(&context, "/pat.probe.Echo/Call",
                 grpc::StubOptions(), &request, &response,
                 [state, planted](grpc::Status status) {
                   // planted: read only after the racing write (a relaxed
                   // flag gives TSAN no ordering), so the write is the
                   // recent access TSAN compares with: a race TSAN could
                   // otherwise miss when the older access's trace is gone.
                   while (planted &&
                          !state->written.load(std::memory_order_relaxed)) {
                     std::this_thread::yield();
                   }
                   state->seen = state->value;
                   state->status = std::move(status);
                   state->done.Notify();
                 });
  if (planted) {
    state->value = i;  // unordered with the completion's read
    state->written.store(true, std::memory_order_relaxed);
  }
  state->done.WaitForNotification();
  if (!state->status.ok() || state->seen != i) {
    std::fprintf(stderr, "call %d: status %d (%s), seen %d\n", i,
                 static_cast<int>(state->status.error_code()),
                 state->status.error_message().c_str(), state->seen);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const bool planted = argc > 1 && std::strcmp(argv[1], "planted") == 0;
  grpc::AsyncGenericService echo;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.RegisterAsyncGenericService(&echo);
  std::unique_ptr<grpc::ServerCompletionQueue> cq =
      builder.AddCompletionQueue();
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "server did not start\n");
    return 2;
  }
  std::thread serving([&] { ServeEcho(&echo, cq.get()); });
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  // Connected first, so no call connects inline: the probe is about a
  // call's start and completion, not gRPC's connection set-up.
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(10))) {
    std::fprintf(stderr, "channel did not connect\n");
    std::_Exit(2);
  }
  grpc::GenericStub stub(channel);
  const int calls = argc > 2 ? std::atoi(argv[2]) : (planted ? 5 : 50);
  for (int i = 0; i < calls; ++i) {
    if (!CallOnce(stub, i, planted)) std::_Exit(1);
  }
  std::printf("%d calls completed\n", calls);
  std::fflush(stdout);
  // No teardown (the serving thread is never joined): channel and server destruction race inside libgrpc (both
  // stacks there), which is not what this probe is about.
  std::_Exit(0);
}
