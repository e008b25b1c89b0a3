/*
 * tests/th_script.h - the child program of the pipe and subprocess tests, as a resumable
 * interpreter: the helper binary tests/th_child runs it on its real fds (blocking I/O),
 * and in sim mode the harness runs the same script as the program of a virtual child
 * (aiotp_sim_set_spawn_hook), one step per loop pass, so that one test text runs on poll,
 * epoll and the sim.
 *
 * A script is the child's argv after argv[0]: one command per word, run in order.
 *   out:TEXT     write TEXT to fd 1 (no newline added)     err:TEXT  the same to fd 2
 *   outn:N       write N pattern bytes to fd 1 (th_script_pattern: byte i is
 *                (i * 7 + 3) & 0xff, counting from the first pattern byte of the script)
 *   close:N      close fd N (0, 1 or 2)
 *   wait         read fd 0 up to and including the next '\n' (or end of file)
 *   cat          copy fd 0 to fd 1 until end of file
 *   drain        read fd 0 until end of file, discarding
 *   count        read fd 0 until end of file, then write "n=<bytes> sum=<crc32 hex>\n" to 1
 *   ignore:SIG   ignore signal SIG from now on
 *   hang         wait until a signal ends the process
 *   grandchild:TEXT   a grandchild takes over fds 0..2: once fd 0 reaches end of file it
 *                writes TEXT to fd 1 and exits (the child itself goes on: e.g. exit:5)
 *   kill:SIG     die by signal SIG
 *   exit:N       exit with status N (the end of the script: exit:0)
 * Writes to a pipe without a reader kill the child with SIGPIPE (the default action).
 */
#ifndef TH_SCRIPT_H
#define TH_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the interpreter does with the world: the binary's blocking calls, or the sim's
   aiotp_sim_child_* calls (which return -EAGAIN instead of blocking). */
typedef struct th_script_io {
    ssize_t (*read)(void *ctx, int fd, void *buf, size_t n);        /* or -errno */
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t n); /* or -errno */
    void (*close)(void *ctx, int fd);
    void (*exit)(void *ctx, int code, bool keep_fds); /* keep_fds: a grandchild has them */
    void (*die)(void *ctx, int sig);
    void (*ignore)(void *ctx, int sig);
    /* grandchild:TEXT on a real process: fork one (NULL in sim mode: the interpreter
       goes on as the grandchild after the child's exit) */
    void (*fork_grandchild)(void *ctx, const char *text);
    void *ctx;
} th_script_io;

typedef struct th_script {
    int argc;
    char **argv;        /* argv[0] is the program */
    int pc;             /* the command running (1 ..) */
    size_t off;         /* bytes of its output written so far */
    uint64_t pattern;   /* pattern bytes written so far */
    uint64_t count_n;   /* count: bytes read */
    uint32_t count_sum;
    bool ended;         /* exited or died */
    bool gc;            /* sim: a grandchild holds the fds and writes gc_text at EOF */
    const char *gc_text;
    size_t gc_off;
    bool gc_eof;
    char report[64];    /* count's line */
    unsigned char cbuf[4096]; /* cat: the chunk being copied */
    size_t clen;
} th_script;

/* argv[0..argc) (kept by reference). */
void th_script_init(th_script *s, int argc, char **argv);
/* Run until the script must wait for input or room (false) or has ended (true). */
bool th_script_step(th_script *s, const th_script_io *io);
/* The i-th pattern byte. */
unsigned char th_script_pattern(uint64_t i);

#endif /* TH_SCRIPT_H */
