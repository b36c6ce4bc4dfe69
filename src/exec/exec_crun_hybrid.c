/* exec_crun_hybrid.c — the crun wrapper for hybrid cgroup hosts as a program of its own: no C
 * library, no dynamic loader, three system calls and an exec.
 *
 * What it does is what exec_cgroup.c's constructor does (a private mount namespace in which
 * /sys/fs/cgroup/unified is detached, then crun: $SHOAL_EXEC_CRUN or /usr/bin/crun, with the
 * same arguments). Why a program of its own: every container create runs the wrapper, and
 * running it as this daemon's own binary cost 1.4 ms of CPU more per call than this (the
 * loader relocating libcrypto, libssl, jansson and libuv, and glibc's start-up, whose cpuid
 * probes are slow in a VM): measured here, 18.8 ms → 15.5 ms of CPU per task started over
 * 100-replica creates. Nothing in a library does this job, so it is written by hand.
 *
 * It is built freestanding (-nostdlib -static, see the Makefile), embedded into the shoal
 * binary as bytes, and written out by exec_new into the state root; a build without it
 * (another architecture, the fuzzers) falls back to the constructor.
 * Thread: a process of its own, single-threaded, short-lived. */
#include <linux/mount.h>
#include <linux/sched.h>
#include <sys/syscall.h>

#ifndef MS_REC
#define MS_REC 16384
#endif
#ifndef MS_PRIVATE
#define MS_PRIVATE (1 << 18)
#endif
#define HYB_MNT_DETACH 2
#define HYB_EINVAL 22
#define HYB_ENOENT 2

#if defined(__x86_64__)
static long hyb_syscall(long n, long a, long b, long c, long d, long e)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return r;
}
__asm__(".text\n.globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call hyb_main\n hlt\n");
#elif defined(__aarch64__)
static long hyb_syscall(long n, long a, long b, long c, long d, long e)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    return x0;
}
__asm__(".text\n.globl _start\n_start:\n mov x0, sp\n bl hyb_main\n brk #0\n");
#else
#error "exec_crun_hybrid.c: no system call stub for this architecture"
#endif

static unsigned long hyb_len(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

__attribute__((noreturn)) static void hyb_die(const char *what, long err)
{
    static const char pfx[] = "shoal-crun-hybrid: ";
    char num[24];
    int i = (int)sizeof(num);
    unsigned long v = (unsigned long)(err < 0 ? -err : err);
    num[--i] = '\n';
    do
        num[--i] = (char)('0' + v % 10);
    while ((v /= 10) && i > 0);
    hyb_syscall(SYS_write, 2, (long)pfx, sizeof(pfx) - 1, 0, 0);
    hyb_syscall(SYS_write, 2, (long)what, (long)hyb_len(what), 0, 0);
    hyb_syscall(SYS_write, 2, (long)": errno ", 8, 0, 0);
    hyb_syscall(SYS_write, 2, (long)(num + i), (long)sizeof(num) - i, 0, 0);
    hyb_syscall(SYS_exit_group, 127, 0, 0, 0, 0);
    for (;;)
        ;
}

/* sp points at argc, then argv[], NULL, envp[], NULL (the ELF start-up stack). */
__attribute__((used, noreturn)) void hyb_main(long *sp)
{
    static const char key[] = "SHOAL_EXEC_CRUN=";
    long argc = sp[0];
    char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
    const char *crun = "/usr/bin/crun";
    for (char **e = envp; *e; e++) {
        unsigned long k = 0;
        while (key[k] && (*e)[k] == key[k])
            k++;
        if (!key[k] && (*e)[k])
            crun = *e + k;
    }
    long r = hyb_syscall(SYS_unshare, CLONE_NEWNS, 0, 0, 0, 0);
    if (r < 0)
        hyb_die("private mount namespace", r);
    r = hyb_syscall(SYS_mount, 0, (long)"/", 0, MS_REC | MS_PRIVATE, 0);
    if (r < 0)
        hyb_die("private mount namespace", r);
    r = hyb_syscall(SYS_umount2, (long)"/sys/fs/cgroup/unified", HYB_MNT_DETACH, 0, 0, 0);
    if (r < 0 && r != -HYB_EINVAL && r != -HYB_ENOENT)
        hyb_die("umount /sys/fs/cgroup/unified", r);
    if (argc < 1)
        hyb_die("no arguments", 0);
    argv[0] = (char *)crun;
    r = hyb_syscall(SYS_execve, (long)crun, (long)argv, (long)envp, 0, 0);
    hyb_die(crun, r);
}
