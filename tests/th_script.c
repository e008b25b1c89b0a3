/* tests/th_script.c - see th_script.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_script.h"

unsigned char th_script_pattern(uint64_t i)
{
    return (unsigned char)((i * 7u + 3u) & 0xffu);
}

static uint32_t crc32_bits(uint32_t crc, const unsigned char *p, size_t n)
{
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

void th_script_init(th_script *s, int argc, char **argv)
{
    memset(s, 0, sizeof(*s));
    s->argc = argc;
    s->argv = argv;
    s->pc = 1;
}

static bool is(const char *cmd, const char *name, const char **arg)
{
    size_t n = strlen(name);
    if (strncmp(cmd, name, n) != 0) {
        return false;
    }
    if (cmd[n] == '\0') {
        *arg = "";
        return true;
    }
    if (cmd[n] == ':') {
        *arg = cmd + n + 1;
        return true;
    }
    return false;
}

/* Write text[s->off ..] to fd: true when all of it is out (or the child died). */
static bool put(th_script *s, const th_script_io *io, int fd, const char *text, size_t len)
{
    while (s->off < len) {
        ssize_t n = io->write(io->ctx, fd, text + s->off, len - s->off);
        if (n == -EAGAIN) {
            return false;
        }
        if (n == -EPIPE) {
            io->die(io->ctx, 13); /* SIGPIPE's default action */
            s->ended = true;
            return true;
        }
        if (n < 0) {
            s->off = len; /* a closed fd: the write is lost */
            break;
        }
        s->off += (size_t)n;
    }
    return true;
}

static bool put_pattern(th_script *s, const th_script_io *io, size_t total)
{
    unsigned char buf[4096];
    while (s->off < total) {
        size_t n = total - s->off < sizeof(buf) ? total - s->off : sizeof(buf);
        size_t i;
        ssize_t w;
        for (i = 0; i < n; i++) {
            buf[i] = th_script_pattern(s->pattern + i);
        }
        w = io->write(io->ctx, 1, buf, n);
        if (w == -EAGAIN) {
            return false;
        }
        if (w == -EPIPE) {
            io->die(io->ctx, 13);
            s->ended = true;
            return true;
        }
        if (w < 0) {
            s->off = total;
            break;
        }
        s->off += (size_t)w;
        s->pattern += (uint64_t)w;
    }
    return true;
}

/* Read fd 0 until a '\n' (wait), or until end of file (drain, count, cat): true when
   done. cat writes what it reads (a chunk not yet written is kept in report[]). */
static bool read_until(th_script *s, const th_script_io *io, int mode)
{
    unsigned char buf[4096];
    for (;;) {
        ssize_t n;
        if (mode == 3 && s->off < s->clen) {
            /* cat: the rest of the last chunk */
            ssize_t w = io->write(io->ctx, 1, s->cbuf + s->off, s->clen - s->off);
            if (w == -EAGAIN) {
                return false;
            }
            if (w == -EPIPE) {
                io->die(io->ctx, 13);
                s->ended = true;
                return true;
            }
            s->off = w < 0 ? s->clen : s->off + (size_t)w;
            continue;
        }
        n = io->read(io->ctx, 0, mode == 3 ? s->cbuf : buf, mode == 0 ? 1 : sizeof(buf));
        if (n == -EAGAIN) {
            return false;
        }
        if (n <= 0) {
            return true; /* end of file (or a closed fd) */
        }
        if (mode == 0 && buf[0] == '\n') {
            return true;
        }
        if (mode == 2) {
            s->count_n += (uint64_t)n;
            s->count_sum = crc32_bits(s->count_sum, buf, (size_t)n);
        }
        if (mode == 3) {
            s->clen = (size_t)n;
            s->off = 0;
        }
    }
}

/* The grandchild (sim mode): after fd 0's end of file, gc_text to fd 1, then it is gone. */
static bool grandchild_step(th_script *s, const th_script_io *io)
{
    if (!s->gc_eof) {
        if (!read_until(s, io, 1)) {
            return false;
        }
        s->gc_eof = true;
        s->off = 0;
    }
    if (!put(s, io, 1, s->gc_text, strlen(s->gc_text))) {
        return false;
    }
    io->close(io->ctx, 0);
    io->close(io->ctx, 1);
    io->close(io->ctx, 2);
    s->gc = false;
    return true;
}

bool th_script_step(th_script *s, const th_script_io *io)
{
    if (s->ended) {
        return s->gc ? grandchild_step(s, io) : true;
    }
    while (s->pc < s->argc) {
        const char *c = s->argv[s->pc];
        const char *a = "";
        if (is(c, "out", &a) || is(c, "err", &a)) {
            if (!put(s, io, c[0] == 'o' ? 1 : 2, a, strlen(a))) {
                return false;
            }
        } else if (is(c, "outn", &a)) {
            if (!put_pattern(s, io, (size_t)strtoul(a, NULL, 10))) {
                return false;
            }
        } else if (is(c, "close", &a)) {
            io->close(io->ctx, atoi(a));
        } else if (is(c, "wait", &a)) {
            if (!read_until(s, io, 0)) {
                return false;
            }
        } else if (is(c, "drain", &a)) {
            if (!read_until(s, io, 1)) {
                return false;
            }
        } else if (is(c, "cat", &a)) {
            if (!read_until(s, io, 3)) {
                return false;
            }
            s->clen = 0;
        } else if (is(c, "count", &a)) {
            if (s->report[0] == '\0') {
                if (!read_until(s, io, 2)) {
                    return false;
                }
                snprintf(s->report, sizeof(s->report), "n=%llu sum=%08lx\n",
                         (unsigned long long)s->count_n, (unsigned long)s->count_sum);
                s->off = 0;
            }
            if (!put(s, io, 1, s->report, strlen(s->report))) {
                return false;
            }
            s->report[0] = '\0';
        } else if (is(c, "ignore", &a)) {
            io->ignore(io->ctx, atoi(a));
        } else if (is(c, "hang", &a)) {
            return false; /* until a signal ends it */
        } else if (is(c, "grandchild", &a)) {
            if (io->fork_grandchild != NULL) {
                io->fork_grandchild(io->ctx, a);
            } else {
                s->gc = true;
                s->gc_text = a;
            }
        } else if (is(c, "kill", &a)) {
            io->die(io->ctx, atoi(a));
            s->ended = true;
            return true;
        } else if (is(c, "exit", &a)) {
            io->exit(io->ctx, atoi(a), s->gc);
            s->ended = true;
            return s->gc ? false : true;
        } else {
            fprintf(stderr, "th_child: unknown command %s\n", c);
            io->exit(io->ctx, 99, false);
            s->ended = true;
            return true;
        }
        if (s->ended) {
            return true;
        }
        s->pc++;
        s->off = 0;
    }
    io->exit(io->ctx, 0, s->gc);
    s->ended = true;
    return !s->gc;
}
