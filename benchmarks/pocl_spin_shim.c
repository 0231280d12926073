/* An experiment for benchmarks/pocl_wakeups.py, not part of boda: loaded with LD_PRELOAD, it
   makes PoCL's pthread workers spin for SPIN_US microseconds of idleness before they sleep.

   PoCL 3.0's workers wait on one condition variable (scheduler.wake_pool in
   lib/CL/devices/pthread/pthread_scheduler.c) as soon as they find no work: at every kernel
   boundary the worker that ran out of work groups first sleeps, and the next kernel starts
   on one thread until it is woken. Here a wait on that variable (the first one two threads
   other than the main one wait on) returns at once, as a spurious wake-up (which POSIX
   allows: PoCL re-checks its queues and waits again), until the thread has been idle for
   SPIN_US; then it really sleeps. SPIN_US=0 (or unset) changes nothing. With SPIN_DEBUG set,
   the counts of spins and sleeps are printed on exit. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int (*real_wait)(pthread_cond_t *, pthread_mutex_t *);
static long long spin_ns = -1, spins, sleeps;
static pthread_t main_thread;
static void *pool;                     /* the workers' condition variable, once seen */
static void *seen[16];                 /* variables waited on by threads other than main */
static pthread_t seen_by[16];
static int nseen;
static __thread long long idle_since, last_return;

__attribute__((constructor)) static void init(void) { main_thread = pthread_self(); }

__attribute__((destructor)) static void report(void) {
  if (getenv("SPIN_DEBUG"))
    fprintf(stderr, "spin shim: %lld spins, %lld sleeps\n", spins, sleeps);
}

static long long now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void find_pool(void *c) {
  pthread_mutex_lock(&seen_lock);
  for (int i = 0; i < nseen; ++i)
    if (seen[i] == c && !pthread_equal(seen_by[i], pthread_self())) {
      pool = c;
      break;
    }
  if (!pool && nseen < 16) {
    seen[nseen] = c;
    seen_by[nseen++] = pthread_self();
  }
  pthread_mutex_unlock(&seen_lock);
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  if (!real_wait) real_wait = dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
  if (spin_ns < 0) spin_ns = getenv("SPIN_US") ? atoll(getenv("SPIN_US")) * 1000 : 0;
  if (!pool && spin_ns > 0 && !pthread_equal(main_thread, pthread_self())) find_pool(c);
  if (c == pool) {
    long long t = now();
    if (t - last_return > 20000) idle_since = t;  /* it worked since: a new idle spell */
    if (t - idle_since < spin_ns) {
      pthread_mutex_unlock(m);
      for (int i = 0; i < 100; ++i) _mm_pause();
      pthread_mutex_lock(m);
      __atomic_add_fetch(&spins, 1, __ATOMIC_RELAXED);
      last_return = now();
      return 0;
    }
    __atomic_add_fetch(&sleeps, 1, __ATOMIC_RELAXED);
  }
  int r = real_wait(c, m);
  last_return = now();
  return r;
}
