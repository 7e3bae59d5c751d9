// Heap allocation counter for bench/proxy_vs_nginx.sh, loaded into a proxy
// with LD_PRELOAD. Every malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign and valloc (C++ operator new goes through malloc)
// adds one to a 64-bit counter kept in the file named by
// GM_ALLOC_COUNT_FILE; the bench reads the file before and after a run.
//
// Why a shared file mapping and not a counter dumped by a thread or a
// signal: nginx and HAProxy fork their workers from the process the library
// was loaded into (threads do not survive fork, and both own their
// signals), while a MAP_SHARED page is inherited, so master and workers
// count into the same word. The cost is one relaxed atomic add per
// allocation, the same for every proxy measured.
//
// Built by the bench script: cc -O2 -shared -fPIC -o alloc_count.so alloc_count.c
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static _Atomic uint64_t* counter;  // null until the constructor has mapped the file

static inline void count(void) {
  _Atomic uint64_t* c = counter;
  if (c != NULL) atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

__attribute__((constructor)) static void map_counter(void) {
  const char* path = getenv("GM_ALLOC_COUNT_FILE");
  if (path == NULL || *path == '\0') return;
  // Never truncated: a process this one forks may exec another that loads
  // the library again, and a shrinking file would fault the mappings of
  // both. Readers take differences, so an old count does no harm.
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) == 0 && (st.st_size >= (off_t)sizeof(uint64_t) ||
                              ftruncate(fd, sizeof(uint64_t)) == 0)) {
    void* p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) counter = (_Atomic uint64_t*)p;
  }
  close(fd);
}

void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}

void* calloc(size_t n, size_t size) {
  count();
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}

void* memalign(size_t align, size_t n) {
  count();
  return __libc_memalign(align, n);
}

void* aligned_alloc(size_t align, size_t n) {
  count();
  return __libc_memalign(align, n);
}

void* valloc(size_t n) {
  count();
  return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

int posix_memalign(void** out, size_t align, size_t n) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  count();
  void* p = __libc_memalign(align, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}
