/*
 * runakode-spawn FD PROGRAM [ARG...]
 *
 * Runs PROGRAM as its child and writes to file descriptor FD "started PID" at once, then, once
 * it has ended, "WAIT_STATUS USER_US SYSTEM_US MAXRSS_KB"; exits with the program's exit code
 * (128 + the signal when it was killed by one). The program can kill this process (it runs as
 * the same user): the launcher then waits for the program itself, by its PID.
 *
 * Why: a forked process starts with its parent's peak memory and keeps it through exec, so a
 * program forked by the launcher (a Python process of about 15 MB) would report at least that
 * much. This process is tiny: what its child reports is the program's own.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: runakode-spawn FD PROGRAM [ARG...]\n", stderr);
        return 127;
    }
    int report = atoi(argv[1]);
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "cannot start %s: %s\n", argv[2], strerror(errno));
        return 127;
    }
    if (child == 0) {
        close(report);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "cannot start %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    /* A live session's signals go to the program's process group, which this process leads:
     * it ignores them (the child has its own dispositions already), so it lives to report. */
    for (int sig = 1; sig < 32; sig++) {
        if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP && sig != SIGCONT)
            signal(sig, SIG_IGN);
    }
    /* Not dumpable: the program, a process of the same user, cannot ptrace this one to
     * write its own figures into the report. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    dprintf(report, "started %d\n", (int)child);
    /* The program alone holds its standard streams: when it closes them, they are closed. */
    close(0);
    close(1);
    close(2);
    int status;
    struct rusage usage;
    while (wait4(child, &status, 0, &usage) < 0) {
        if (errno != EINTR)
            return 127;
    }
    dprintf(report, "%d %ld %ld %ld\n", status,
            (long)usage.ru_utime.tv_sec * 1000000L + (long)usage.ru_utime.tv_usec,
            (long)usage.ru_stime.tv_sec * 1000000L + (long)usage.ru_stime.tv_usec,
            usage.ru_maxrss);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
