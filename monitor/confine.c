/* seccomp allowlists per kind of thread (include/tidal/confine.h), built with
 * libseccomp. The lists name calls by name: libc variants of one operation (open and
 * openat, stat and newfstatat...) are all there, since the lean binary uses musl and
 * the services glibc. ioctl is allowed for KVM's requests (type 0xAE) and the two
 * terminal queries libc makes when it opens a stream (TCGETS, TIOCGWINSZ); tgkill
 * only towards this process; clone only for threads (clone3 answers ENOSYS, so libc
 * falls back to clone, whose flags a filter can see); mmap and mprotect only without
 * PROT_EXEC: once set up, the monitor makes no new code. */
#include "tidal/confine.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static bool disabled
#if defined(__SANITIZE_ADDRESS__)
    = true
#endif
    ;

void tidal_confine_disable(void)
{
    disabled = true;
}

bool tidal_confine_enabled(void)
{
    return !disabled;
}

/* Every kind: the run loop and what it leans on. */
static const char *const base_calls[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "fstat",
    "newfstatat", "statx", "fcntl", "dup", "dup3", "munmap", "madvise", "mremap", "brk", "futex",
    "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "sigaltstack", "clock_gettime",
    "clock_nanosleep", "nanosleep", "gettimeofday", "getpid", "gettid", "getrandom", "sched_yield",
    "exit", "exit_group", "set_robust_list", "rseq", "sched_getaffinity", "restart_syscall",
    "timer_create", "timer_settime", "timer_gettime", "timer_delete", "timerfd_create",
    "timerfd_settime", "eventfd2", "poll", "ppoll", "prlimit64", "getrlimit", "membarrier",
    "getuid", "geteuid", "rt_sigtimedwait",
    /* What libc and libraries ask about the host and themselves */
    "sysinfo", "uname", "getppid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
    "getrusage", "times", "clock_getres", "sched_getparam", "sched_getscheduler", "getpriority",
    "getitimer", "setitimer", "preadv", "pwritev", "preadv2", "pwritev2", "fadvise64", "readahead",
    "sync_file_range",
    /* a vCPU thread loading its own filter on top (filters only take away) */
    "seccomp",
    /* Files: snapshots saved and opened, outputs written, logs and state files. */
    "open", "openat", "stat", "lstat", "access", "faccessat", "readlink", "readlinkat",
    "getdents64", "mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat",
    "rmdir", "ftruncate", "fallocate", "fsync", "fdatasync", "memfd_create", "flock", "statfs",
    "fstatfs", "pipe", "pipe2", "umask", "getcwd", "fchmod", NULL};

/* Monitor and service processes, not vCPU threads: more threads, children of `clone`
 * groups reaped. */
static const char *const process_calls[] = {"wait4", "waitid", "sched_setaffinity", NULL};

/* Services: their listening sockets (opened as they start) and connections; no
 * connect unless allowed: only a cluster's daemon calls out. */
static const char *const service_calls[] = {
    "bind",        "listen",        "accept",    "accept4",    "recvfrom",    "sendto",
    "recvmsg",     "sendmsg",       "shutdown",  "getsockopt", "setsockopt",  "getsockname",
    "getpeername", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "select",
    "pselect6",    "sendfile",      "bpf",       NULL};

static const char *const kind_names[] = {[TIDAL_CONFINE_MONITOR] = "monitor",
                                         [TIDAL_CONFINE_SERVICE] = "service",
                                         [TIDAL_CONFINE_VCPU] = "vCPU"};
static __thread int thread_kind = -1; /* this thread's own filter (vCPU threads) */
static int process_kind = -1;         /* the process's filter (every thread) */
static bool outbound;                 /* SERVICE may connect */

void tidal_confine_allow_outbound(void)
{
    outbound = true;
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    int nr = si->si_syscall;
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    char line[256];
    int n =
        snprintf(line, sizeof(line),
                 "tidal: seccomp: a %s thread made the forbidden system call %s (%d); "
                 "stopping (--no-seccomp turns confinement off, for debugging)\n",
                 kind_names[thread_kind >= 0 ? thread_kind : process_kind], name ? name : "?", nr);
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(sig, &dfl, NULL);
    raise(sig); /* tgkill to ourselves: allowed; the default action ends the process */
}

/* One comparison of argument n, both operands given (libseccomp's SCMP_An macros
 * leave the second out where it is unused, which some compilers warn about). */
static struct scmp_arg_cmp cmp(unsigned n, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
    return (struct scmp_arg_cmp){.arg = n, .op = op, .datum_a = a, .datum_b = b};
}

static int add_list(scmp_filter_ctx ctx, const char *const *names)
{
    for (; *names; names++) {
        int nr = seccomp_syscall_resolve_name(*names);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a call on this architecture */
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0))
            return -1;
    }
    return 0;
}

static int build(scmp_filter_ctx ctx, enum tidal_confine_kind kind)
{
    if (add_list(ctx, base_calls) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                         cmp(1, SCMP_CMP_MASKED_EQ, 0xff00u, 0xae00u)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                         cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                         cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, cmp(1, SCMP_CMP_EQ, TCGETS, 0)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                         cmp(1, SCMP_CMP_EQ, TIOCGWINSZ, 0)) ||
        /* thread names (the HTTP library names its threads); no_new_privs, which
         * loading a vCPU thread's own filter sets again (it only takes away) */
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                         cmp(0, SCMP_CMP_EQ, PR_SET_NAME, 0)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                         cmp(0, SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS, 0)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                         cmp(0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                         cmp(0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0)))
        return -1;
    if (kind == TIDAL_CONFINE_VCPU)
        return 0;
    if (add_list(ctx, process_calls) ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                         cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0))
        return -1;
    /* `clone` forks its groups of clones before confining them; a group's
     * children are not forked again. */
    if (kind != TIDAL_CONFINE_SERVICE)
        return 0;
    static const int domains[] = {AF_UNIX, AF_INET, AF_INET6};
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                             cmp(0, SCMP_CMP_EQ, (scmp_datum_t)domains[i], 0)))
            return -1;
    /* libcurl (the etcd client) wakes its own poll through a socketpair */
    if (outbound && (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0) ||
                     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                                      cmp(0, SCMP_CMP_EQ, AF_UNIX, 0))))
        return -1;
    return add_list(ctx, service_calls);
}

int tidal_confine(enum tidal_confine_kind kind, struct tidal_err *err)
{
    /* Guest memory must not land on disk, confined or not (process-wide: set once,
     * by the process's own confinement, before its vCPU threads add theirs). */
    if (kind != TIDAL_CONFINE_VCPU) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    if (disabled || (kind == TIDAL_CONFINE_VCPU && process_kind < 0))
        return 0;
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL))
        return tidal_err_set(err, "seccomp: SIGSYS handler: %s", strerror(errno));
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx)
        return tidal_err_set(err, "seccomp: cannot create a filter (out of memory)");
    int rc = build(ctx, kind);
    if (!rc && kind != TIDAL_CONFINE_VCPU)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (!rc)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc)
        return tidal_err_set(err,
                             "seccomp: cannot confine the %s (%s); --no-seccomp runs without "
                             "confinement",
                             kind_names[kind], strerror(rc < 0 ? -rc : rc));
    if (kind == TIDAL_CONFINE_VCPU)
        thread_kind = (int)kind;
    else
        process_kind = (int)kind;
    tidal_confine_test_hook();
    return 0;
}

void tidal_confine_test_hook(void)
{
    const char *name = getenv("TIDAL_CONFINE_TEST_CALL");
    if (!name || !*name)
        return;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr != __NR_SCMP_ERROR)
        syscall(nr, 0, 0, 0, 0, 0, 0);
}
