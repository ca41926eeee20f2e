// ThreadSanitizer tree only (-DPAT_TSAN=ON): makes the hand-off of a gRPC
// batch to its completion visible to TSAN.
//
// A callback-API call (client unary, reactors) is built by grpc++ header code
// compiled into our instrumented binary: the CallOpSet, the
// CallbackWithStatusTag and a copy of our completion functor are written on
// the starting thread, then `grpc_call_start_batch` hands them to Debian's
// uninstrumented libgrpc. The completion runs on a gRPC thread that gets the
// tag back from `grpc_completion_queue_next` (grpc++'s callback-alternative
// completion queue loop in libgrpc++) and calls the tag's functor, which
// reads what the starting thread wrote. The ordering between the two is made
// by libgrpc's own atomics and locks, which TSAN cannot see, so every such
// read was reported as a race (34 reports in one watcher_test run under load).
//
// gRPC's contract is exactly this: everything done before a batch is started
// happens before its tag is returned by the completion queue. These two
// definitions (bound ahead of libgrpc's, as in absl_tsan_interpose.cc) state
// that contract to TSAN, keyed by the tag: a release on the tag before the
// real start, an acquire on the returned tag after the real next. They change
// no behaviour and suppress nothing: a race on memory that our code touches
// outside the batch protocol is still reported (tsan_grpc_probe checks that).
#include <dlfcn.h>
#include <grpc/grpc.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

namespace {

template <typename Fn>
Fn RealGrpc(const char* name) {
  void* real = dlsym(RTLD_NEXT, name);
  if (real == nullptr) {
    std::fprintf(stderr, "grpc_tsan_interpose: not found: %s\n", name);
    std::abort();
  }
  return reinterpret_cast<Fn>(real);
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops,
                                      size_t nops, void* tag, void* reserved) {
  using Fn = grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*,
                                 void*);
  static const Fn real = RealGrpc<Fn>("grpc_call_start_batch");
  if (tag != nullptr) __tsan_release(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq,
                                      gpr_timespec deadline, void* reserved) {
  using Fn = grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*);
  static const Fn real = RealGrpc<Fn>("grpc_completion_queue_next");
  const grpc_event event = real(cq, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE && event.tag != nullptr) {
    __tsan_acquire(event.tag);
  }
  return event;
}

}  // extern "C"
