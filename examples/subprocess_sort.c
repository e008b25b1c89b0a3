/*
 * examples/subprocess_sort.c - pipe data through a child both ways with flow control:
 * 200000 lines, in descending order, are written to sort(1)'s stdin through the stdin pipe
 * transport, as fast as the pipe takes them: when its buffer goes over the high-water mark
 * the SubprocessProtocol's pause_writing is called and the writer stops, resume_writing
 * lets it go on. Then stdin is closed (sort sees end of file) and sort's stdout is read
 * through pipe_data_received and checked line by line.
 *
 * Prints "sort: 200000 lines in order". Exit status 0 only if every line came back in
 * order, the writer was paused at least once, sort exited with 0 and connection_lost came.
 */
#include <stdio.h>
#include <string.h>

#include "aiotp/aiotp.h"

#define LINES 200000u
#define LINE_LEN 8u /* "%07u\n" */

typedef struct sorter {
    aiotp_loop *loop;
    aiotp_transport *t;
    unsigned next_out;  /* lines written so far */
    bool paused;
    int pauses;
    unsigned next_in;   /* lines read back so far (each must be next_in) */
    char partial[LINE_LEN];
    size_t plen;
    bool bad;
    bool exited;
    bool lost;
} sorter;

/* Write lines while the stdin pipe is not paused; close stdin after the last one. */
static void pump(sorter *s)
{
    aiotp_transport *in = aiotp_transport_get_pipe_transport(s->t, 0);
    char chunk[4096 * LINE_LEN + 1];
    if (in == NULL) {
        return;
    }
    while (!s->paused && s->next_out < LINES) {
        size_t n = 0;
        unsigned k;
        for (k = 0; k < 4096 && s->next_out < LINES; k++, s->next_out++) {
            snprintf(chunk + n, sizeof(chunk) - n, "%07u\n", LINES - 1 - s->next_out);
            n += LINE_LEN;
        }
        if (aiotp_transport_write(in, chunk, n) != 0) { /* may call pause_writing */
            s->bad = true;
            return;
        }
    }
    if (s->next_out == LINES && !aiotp_transport_is_closing(in)) {
        (void)aiotp_transport_close(in); /* flushed first, then end of file */
    }
}

static int connection_made(aiotp_transport *t, void *data)
{
    sorter *s = data;
    s->t = t;
    pump(s);
    return 0;
}

static int pause_writing(aiotp_transport *t, void *data)
{
    sorter *s = data;
    (void)t;
    s->paused = true;
    s->pauses++;
    return 0;
}

static int resume_writing(aiotp_transport *t, void *data)
{
    sorter *s = data;
    (void)t;
    s->paused = false;
    pump(s);
    return 0;
}

static void check_line(sorter *s, const char *line)
{
    char want[LINE_LEN + 1];
    snprintf(want, sizeof(want), "%07u\n", s->next_in);
    if (memcmp(line, want, LINE_LEN) != 0) {
        s->bad = true;
    }
    s->next_in++;
}

static int pipe_data_received(aiotp_transport *t, void *data, int fd, const void *buf,
                              size_t len)
{
    sorter *s = data;
    const char *p = buf;
    (void)t;
    if (fd != 1) {
        s->bad = true; /* sort wrote to stderr */
        return 0;
    }
    while (len > 0) {
        size_t take = LINE_LEN - s->plen < len ? LINE_LEN - s->plen : len;
        memcpy(s->partial + s->plen, p, take);
        s->plen += take;
        p += take;
        len -= take;
        if (s->plen == LINE_LEN) {
            check_line(s, s->partial);
            s->plen = 0;
        }
    }
    return 0;
}

static int process_exited(aiotp_transport *t, void *data)
{
    sorter *s = data;
    int rc = -1;
    s->exited = true;
    if (aiotp_transport_get_returncode(t, &rc) != 1 || rc != 0) {
        s->bad = true;
    }
    return 0;
}

static int connection_lost(aiotp_transport *t, void *data, int status)
{
    sorter *s = data;
    (void)t;
    s->lost = status == 0;
    aiotp_loop_stop(s->loop);
    return 0;
}

static const aiotp_protocol sorter_table = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
    .connection_made = connection_made,
    .connection_lost = connection_lost,
    .pause_writing = pause_writing,
    .resume_writing = resume_writing,
    .pipe_data_received = pipe_data_received,
    .process_exited = process_exited,
};

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &sorter_table;
    *data = arg;
    return 0;
}

static void on_started(void *arg, int status, aiotp_transport *t)
{
    sorter *s = arg;
    (void)t;
    if (status != 0) {
        fprintf(stderr, "subprocess_exec failed: %s\n", aiotp_strerror(status));
        s->bad = true;
        aiotp_loop_stop(s->loop);
    }
}

int main(void)
{
    const char *const argv[] = {"sort", NULL};
    aiotp_loop *loop;
    sorter s;
    int rc;

    memset(&s, 0, sizeof(s));
    rc = aiotp_loop_create(&loop, NULL);
    if (rc != 0) {
        fprintf(stderr, "loop: %s\n", aiotp_strerror(rc));
        return 1;
    }
    s.loop = loop;
    rc = aiotp_loop_subprocess_exec(loop, factory, &s, argv, NULL, on_started, &s);
    if (rc == 0) {
        rc = aiotp_loop_run(loop); /* until connection_lost */
    }
    aiotp_loop_free(loop);
    if (rc == 0 && !s.bad && s.next_in == LINES && s.plen == 0) {
        printf("sort: %u lines in order\n", s.next_in);
    } else {
        printf("sort: %u lines back, %s\n", s.next_in, s.bad ? "out of order or failed" : "");
    }
    return rc == 0 && !s.bad && s.next_in == LINES && s.plen == 0 && s.pauses > 0 &&
                   s.exited && s.lost
               ? 0
               : 1;
}
