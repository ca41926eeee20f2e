// ThreadSanitizer tree only (-DPAT_TSAN=ON): makes absl's synchronization
// primitives visible to TSAN.
//
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread, so
// absl::Mutex, CondVar and Notification create no happens-before edges and
// TSAN would report every ABSL_GUARDED_BY member of ours as racing. This
// shared library is linked first into every TSAN-tree executable and defines
// the out-of-line member functions of those classes; the dynamic linker binds
// every caller (our code, gRPC, absl itself) to these definitions, which
// tell TSAN about the lock, unlock or wait and then call the real function
// (dlsym RTLD_NEXT). It changes no behaviour, only what TSAN knows.
//
// The model: Lock/Unlock (and reader, try and LockWhen variants) are TSAN
// mutex operations; a wait that releases and re-acquires the mutex inside the
// library (Await*, CondVar::Wait*) is an unlock before and a lock after;
// a Condition evaluated inside the library first acquires the mutex's clock;
// Notify/DecrementCount/Block release and the matching waits acquire.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/barrier.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

[[noreturn]] void Die(const char* what, const char* name) {
  std::fprintf(stderr, "absl_tsan_interpose: %s %s\n", what, name);
  std::abort();
}

// The mangled name of our own definition of the member function `ours`.
template <typename Member>
const char* MangledName(Member ours) {
  static_assert(sizeof(Member) == 2 * sizeof(void*), "Itanium ABI expected");
  void* address = nullptr;
  std::memcpy(&address, &ours, sizeof(address));
  Dl_info info;
  if (dladdr(address, &info) == 0 || info.dli_sname == nullptr) {
    Die("dladdr failed for", "a member function");
  }
  return info.dli_sname;
}

void* RealByName(const char* name) {
  void* real = dlsym(RTLD_NEXT, name);
  if (real == nullptr) Die("not found:", name);
  return real;
}

// The real (next) definition of the member function `ours`.
template <typename Fn, typename Member>
Fn Real(Member ours) {
  return reinterpret_cast<Fn>(RealByName(MangledName(ours)));
}

// The real complete-object destructor of absl::Mutex: its mangled name is
// Mutex::Lock's with "4LockEv" replaced by "D1Ev" (a destructor's address
// cannot be taken).
void* RealMutexDestructor() {
  std::string name = MangledName(&absl::Mutex::Lock);
  const std::string lock = "4LockEv";
  if (name.size() < lock.size() ||
      name.compare(name.size() - lock.size(), lock.size(), lock) != 0) {
    Die("unexpected mangled name", name.c_str());
  }
  name.replace(name.size() - lock.size(), lock.size(), "D1Ev");
  return RealByName(name.c_str());
}

// True when `pc` lies in one of the uninstrumented libraries whose internal
// synchronization TSAN cannot see (Debian's gRPC, gpr, protobuf and absl).
bool CalledFromUninstrumented(void* pc) {
  Dl_info info;
  if (dladdr(pc, &info) == 0 || info.dli_fname == nullptr) return false;
  const char* base = std::strrchr(info.dli_fname, '/');
  base = base == nullptr ? info.dli_fname : base + 1;
  for (const char* lib : {"libgrpc", "libgpr", "libprotobuf", "libabsl_"}) {
    if (std::strncmp(base, lib, std::strlen(lib)) == 0) return true;
  }
  return false;
}

#define PAT_REAL(type, member) static const auto real = Real<type>(member)

// A Condition evaluated by absl (in whichever thread, while absl really
// holds `mu`) reads state guarded by `mu`. To TSAN the evaluation happens
// inside a wait, i.e. after the modelled unlock, so it is bracketed like a
// critical section of its own: acquire the mutex's clock before (the last
// unlocker's writes happen before the reads) and release after (the reads
// happen before the next locker's writes).
struct ConditionInMutex {
  const absl::Condition* cond;
  void* mu;
};
bool EvalAcquiring(void* arg) {
  auto* c = static_cast<ConditionInMutex*>(arg);
  __tsan_acquire(c->mu);
  const bool result = c->cond->Eval();
  __tsan_release(c->mu);
  return result;
}

// A wait that releases `mu` inside absl and holds it again on return: to
// TSAN an unlock before and a lock after, so that other threads may lock it
// meanwhile (and their unlocks happen before our return).
//
// absl implements the *WithTimeout waits by calling the *WithDeadline ones
// through the PLT, i.e. through our definitions again: only the outermost
// interposed wait of a thread tells TSAN (a nested one would "unlock" the
// mutex twice).
thread_local int t_wait_depth = 0;
void BeforeWait(void* mu) {
  if (t_wait_depth++ > 0) return;
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
}
void AfterWait(void* mu) {
  if (--t_wait_depth > 0) return;
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
}
// The same for LockWhen*: only the outermost call models the acquisition.
thread_local int t_lock_when_depth = 0;
void BeforeLockWhen(void* mu, unsigned flags) {
  if (t_lock_when_depth++ > 0) return;
  __tsan_mutex_pre_lock(mu, flags);
}
void AfterLockWhen(void* mu, unsigned flags) {
  if (--t_lock_when_depth > 0) return;
  __tsan_mutex_post_lock(mu, flags, 0);
}

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kFailed = __tsan_mutex_try_lock_failed;

// Notification's atomic flag (read inline by HasBeenNotified in our code)
// follows its Mutex member.
static_assert(sizeof(absl::Mutex) == sizeof(void*) &&
                  sizeof(absl::Notification) == 2 * sizeof(void*),
              "unexpected absl::Notification layout");
void* NotifiedFlag(const absl::Notification* n) {
  return const_cast<char*>(reinterpret_cast<const char*>(n)) +
         sizeof(absl::Mutex);
}

// Fails loudly when the dynamic linker binds absl::Mutex::Lock elsewhere
// (the library was linked after libabsl_synchronization.so): TSAN would
// then see no edges and report false races.
__attribute__((constructor)) void CheckInterposed() {
  const char* name = MangledName(&absl::Mutex::Lock);
  Dl_info bound;
  Dl_info self;
  if (dladdr(dlsym(RTLD_DEFAULT, name), &bound) == 0 ||
      dladdr(reinterpret_cast<void*>(&CheckInterposed), &self) == 0 ||
      std::strcmp(bound.dli_fname, self.dli_fname) != 0) {
    Die("absl::Mutex::Lock is not bound to pat_tsan_absl; link it before "
        "libabsl_synchronization.so:",
        name);
  }
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(void (*)(Mutex*), &Mutex::Lock);
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::Unlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(void (*)(Mutex*), &Mutex::Unlock);
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

bool Mutex::TryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(bool (*)(Mutex*), &Mutex::TryLock);
  __tsan_mutex_pre_lock(this, kTry);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, locked ? kTry : kTry | kFailed, 0);
  return locked;
}

void Mutex::ReaderLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(void (*)(Mutex*), &Mutex::ReaderLock);
  __tsan_mutex_pre_lock(this, kRead);
  real(this);
  __tsan_mutex_post_lock(this, kRead, 0);
}

void Mutex::ReaderUnlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(void (*)(Mutex*), &Mutex::ReaderUnlock);
  __tsan_mutex_pre_unlock(this, kRead);
  real(this);
  __tsan_mutex_post_unlock(this, kRead);
}

bool Mutex::ReaderTryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(bool (*)(Mutex*), &Mutex::ReaderTryLock);
  __tsan_mutex_pre_lock(this, kRead | kTry);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, locked ? kRead | kTry : kRead | kTry | kFailed,
                         0);
  return locked;
}

void Mutex::LockWhen(const Condition& cond) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(void (*)(Mutex*, const Condition&), &Mutex::LockWhen);
  ConditionInMutex c{&cond, this};
  BeforeLockWhen(this, 0);
  real(this, Condition(&EvalAcquiring, &c));
  AfterLockWhen(this, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(bool (*)(Mutex*, const Condition&, Duration),
           &Mutex::LockWhenWithTimeout);
  ConditionInMutex c{&cond, this};
  BeforeLockWhen(this, 0);
  const bool ok = real(this, Condition(&EvalAcquiring, &c), timeout);
  AfterLockWhen(this, 0);
  return ok;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond,
                                 Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(bool (*)(Mutex*, const Condition&, Time),
           &Mutex::LockWhenWithDeadline);
  ConditionInMutex c{&cond, this};
  BeforeLockWhen(this, 0);
  const bool ok = real(this, Condition(&EvalAcquiring, &c), deadline);
  AfterLockWhen(this, 0);
  return ok;
}

void Mutex::ReaderLockWhen(const Condition& cond)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  PAT_REAL(void (*)(Mutex*, const Condition&), &Mutex::ReaderLockWhen);
  ConditionInMutex c{&cond, this};
  BeforeLockWhen(this, kRead);
  real(this, Condition(&EvalAcquiring, &c));
  AfterLockWhen(this, kRead);
}

void Mutex::Await(const Condition& cond) {
  PAT_REAL(void (*)(Mutex*, const Condition&), &Mutex::Await);
  ConditionInMutex c{&cond, this};
  BeforeWait(this);
  real(this, Condition(&EvalAcquiring, &c));
  AfterWait(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  PAT_REAL(bool (*)(Mutex*, const Condition&, Duration),
           &Mutex::AwaitWithTimeout);
  ConditionInMutex c{&cond, this};
  BeforeWait(this);
  const bool ok = real(this, Condition(&EvalAcquiring, &c), timeout);
  AfterWait(this);
  return ok;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  PAT_REAL(bool (*)(Mutex*, const Condition&, Time), &Mutex::AwaitWithDeadline);
  ConditionInMutex c{&cond, this};
  BeforeWait(this);
  const bool ok = real(this, Condition(&EvalAcquiring, &c), deadline);
  AfterWait(this);
  return ok;
}

Mutex::~Mutex() {
  static const auto real =
      reinterpret_cast<void (*)(Mutex*)>(RealMutexDestructor());
  // A mutex that an uninstrumented library (gRPC's, say) destroys is ordered
  // after its last unlock by that library's own reference counts, which TSAN
  // cannot see: its "unlock vs destroy" report would be about the library's
  // internals. Only destructions by instrumented code are announced (they
  // keep the unlock-destroy check for our own mutexes).
  if (!CalledFromUninstrumented(__builtin_return_address(0))) {
    __tsan_mutex_destroy(this, 0);
  }
  real(this);
}

void CondVar::Wait(Mutex* mu) {
  PAT_REAL(void (*)(CondVar*, Mutex*), &CondVar::Wait);
  BeforeWait(mu);
  real(this, mu);
  AfterWait(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  PAT_REAL(bool (*)(CondVar*, Mutex*, Duration), &CondVar::WaitWithTimeout);
  BeforeWait(mu);
  const bool timed_out = real(this, mu, timeout);
  AfterWait(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  PAT_REAL(bool (*)(CondVar*, Mutex*, Time), &CondVar::WaitWithDeadline);
  BeforeWait(mu);
  const bool timed_out = real(this, mu, deadline);
  AfterWait(mu);
  return timed_out;
}

void Notification::Notify() {
  PAT_REAL(void (*)(Notification*), &Notification::Notify);
  __tsan_release(this);
  __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  PAT_REAL(void (*)(const Notification*), &Notification::WaitForNotification);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  PAT_REAL(bool (*)(const Notification*, Duration),
           &Notification::WaitForNotificationWithTimeout);
  const bool notified = real(this, timeout);
  __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  PAT_REAL(bool (*)(const Notification*, Time),
           &Notification::WaitForNotificationWithDeadline);
  const bool notified = real(this, deadline);
  __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool BlockingCounter::DecrementCount() {
  PAT_REAL(bool (*)(BlockingCounter*), &BlockingCounter::DecrementCount);
  __tsan_release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  PAT_REAL(void (*)(BlockingCounter*), &BlockingCounter::Wait);
  real(this);
  __tsan_acquire(this);
}

bool Barrier::Block() {
  PAT_REAL(bool (*)(Barrier*), &Barrier::Block);
  __tsan_release(this);
  const bool last = real(this);
  __tsan_acquire(this);
  return last;
}

ABSL_NAMESPACE_END
}  // namespace absl
