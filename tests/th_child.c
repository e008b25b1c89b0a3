/* tests/th_child.c - the child program of the pipe and subprocess tests: runs the script
   given as its arguments (tests/th_script.h) on its real fds 0..2, blocking. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th_script.h"

static ssize_t r_read(void *ctx, int fd, void *buf, size_t n)
{
    ssize_t r;
    (void)ctx;
    do {
        r = read(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -(ssize_t)errno : r;
}

static ssize_t r_write(void *ctx, int fd, const void *buf, size_t n)
{
    ssize_t r;
    (void)ctx;
    do {
        r = write(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -(ssize_t)errno : r;
}

static void r_close(void *ctx, int fd)
{
    (void)ctx;
    close(fd);
}

static void r_exit(void *ctx, int code, bool keep)
{
    (void)ctx;
    (void)keep;
    _exit(code);
}

static void r_die(void *ctx, int sig)
{
    (void)ctx;
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

static void r_ignore(void *ctx, int sig)
{
    (void)ctx;
    signal(sig, SIG_IGN);
}

static void r_grandchild(void *ctx, const char *text)
{
    pid_t pid = fork();
    (void)ctx;
    if (pid == 0) {
        char buf[4096];
        while (r_read(NULL, 0, buf, sizeof(buf)) > 0) {
        }
        (void)r_write(NULL, 1, text, strlen(text));
        _exit(0);
    }
}

int main(int argc, char **argv)
{
    static th_script s;
    static const th_script_io io = {r_read, r_write, r_close, r_exit,
                                    r_die,  r_ignore, r_grandchild, NULL};
    th_script_init(&s, argc, argv);
    while (!th_script_step(&s, &io)) {
        pause(); /* hang: until a signal ends it */
    }
    return 0;
}
