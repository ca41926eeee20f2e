// LD_PRELOAD library for scripts/bench's `allocs` phase: counts calls to
// the C allocator (malloc, calloc, realloc, the aligned forms; operator new
// goes through malloc) in the process it is loaded into, and writes the
// running total as a decimal line to $PAT_ALLOC_COUNT_FILE every 20 ms, so
// the bench can read it before and after a run and divide by the requests
// the sidecar served. Allocation itself is glibc's (__libc_* entry points).
// Not used outside that phase: the counter is one shared atomic.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static atomic_ullong count;

void* malloc(size_t n) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
  void* p = memalign(a, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

static void* writer(void* arg) {
  const int fd = *(int*)arg;
  for (;;) {
    char line[32];
    const int len = snprintf(line, sizeof(line), "%llu\n",
                             (unsigned long long)atomic_load(&count));
    if (pwrite(fd, line, (size_t)len, 0) < 0) return NULL;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

__attribute__((constructor)) static void start(void) {
  const char* path = getenv("PAT_ALLOC_COUNT_FILE");
  if (path == NULL || *path == '\0') return;
  static int fd;
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  // Children (none in the sidecar) must not inherit the writer's file.
  unsetenv("LD_PRELOAD");
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_create(&t, &attr, writer, &fd);
  pthread_attr_destroy(&attr);
}
