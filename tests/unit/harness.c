/* harness.c — runner for unit tests registered with TEST(): one forked child per test, a
 * timeout each, TAP output, and the closing line "N passed, N failed, N skipped".
 * Usage: test-unit [substring]  (runs the tests whose names contain it). */
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct test_entry {
    const char *name;
    test_fn fn;
    int timeout_s;
};

static struct test_entry *tests;
static size_t ntests, captests;

void harness_register(const char *name, test_fn fn, int timeout_s)
{
    if (ntests == captests) {
        captests = captests ? captests * 2 : 64;
        tests = realloc(tests, captests * sizeof(*tests));
        if (!tests)
            abort();
    }
    tests[ntests++] = (struct test_entry){name, fn, timeout_s};
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct test_entry *)a)->name, ((const struct test_entry *)b)->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    qsort(tests, ntests, sizeof(*tests), cmp_name);
    int passed = 0, failed = 0, skipped = 0, n = 0;
    for (size_t i = 0; i < ntests; i++)
        if (!filter || strstr(tests[i].name, filter))
            n++;
    printf("1..%d\n", n);
    fflush(stdout);
    int idx = 0;
    for (size_t i = 0; i < ntests; i++) {
        struct test_entry *t = &tests[i];
        if (filter && !strstr(t->name, filter))
            continue;
        idx++;
        pid_t pid = fork();
        if (pid == 0) {
            alarm((unsigned)t->timeout_s);
            t->fn();
            exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            printf("ok %d - %s\n", idx, t->name);
            passed++;
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
            printf("ok %d - %s # SKIP\n", idx, t->name);
            skipped++;
        } else {
            if (WIFSIGNALED(st))
                printf("# %s: killed by signal %d%s\n", t->name, WTERMSIG(st),
                       WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
            printf("not ok %d - %s\n", idx, t->name);
            failed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed || (passed == 0) ? 1 : 0;
}
