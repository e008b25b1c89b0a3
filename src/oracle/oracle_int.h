/*
 * src/oracle/oracle_int.h - the oracle's internal layout and the interface between its
 * core and its rule modules (spec/oracle.md "Modules").
 *
 *   core.c      the public API: lines in, the transport table (hash of live transports,
 *               slot pool, reclamation), cb/call nesting frames, pass deadlines, reports,
 *               profiles, the format rules TRACE-n
 *   parse.c     one line of text -> orc_line (strict, every number overflow-checked)
 *   base.c      the rules every transport kind shares (BaseTransport, BaseProtocol,
 *               ReadTransport, flow control, queries, exception reports), as helpers the
 *               kind modules call, and the "gone" kind for reclaimed transports
 *   stream.c    stream transports (tcp, tcp6, unix): Protocol, BufferedProtocol, writes
 *   datagram.c  datagram transports (udp, udp6, unixdgram): DatagramProtocol, sendto
 *   pipe.c      pipe transports (piperead, pipewrite): Protocol deliveries and writes (the
 *               stream module's accounting), end of file, the reader going away
 *   subprocess.c  subprocess transports: SubprocessProtocol, signals, per-fd order
 *
 * A transport's kind comes from its open line. Each kind module has one rule table (IDs,
 * profiles, texts), the names of its callbacks and methods, and the rules the shared
 * checks report for it (orc_kind_rules); a new kind (pipes, subprocesses, TLS) is one
 * more module, one more member of the state union and one more entry in the kind list
 * of core.c.
 */
#ifndef AIOTP_ORACLE_INT_H
#define AIOTP_ORACLE_INT_H

#include "aiotp/oracle.h"

#include <stdarg.h>

#define ORC_MAX_TOK 8
#define ORC_STATUS_MAX 24
#define ORC_IMPL_MAX 64
#define ORC_CHECKPOINTS 16u /* (total, sum) points kept per stream sender for its peer */
#define ORC_DGRAM_SENT 32u  /* distinct (n, sum) datagrams kept per datagram sender */
#define ORC_READ_MAX 262144u /* READ-1, DGRAM-RECV-1: 256 KiB per receive */
#define ORC_DGRAM_RECV_BATCH 16u /* DGRAM-RECV-1: receives per read event (DEV-70) */
/* a close_notify record whatever the cipher: header, explicit IV, the alert, MAC or tag
   and up to 255 bytes of CBC padding (TLS 1.2) */
#define ORC_TLS_ALERT_MAX 512u
#define ORC_DEFAULT_HIGH 65536u
#define ORC_DEFAULT_LOW 16384u
#define ORC_FNV_INIT 0x811c9dc5u /* the sum of no bytes, formats 1 and 2 */
#define ORC_CRC_INIT 0x00000000u /* the sum of no bytes, format 3 (CRC-32) */
#define ORC_FIRST_CHUNK 16u      /* transport slots of the first pool chunk */
/* slots beyond max_live for gone transports: one per frame and one for the line */
#define ORC_GONE_SLOTS (AIOTP_ORACLE_MAX_DEPTH + 1u)

#if defined(__GNUC__)
#define ORC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ORC_PRINTF(a, b)
#endif

/* ---- rules ----------------------------------------------------------------------- */

/* A rule: the public aiotp_oracle_rule (id, text, profile, module). Each module writes
   its table with ORC_RULE(ID, PROFILE, TEXT) (tools/check_rules.py reads these lines). */
typedef aiotp_oracle_rule orc_rule;
#define ORC_RULE(id, prof, text, module) {id, text, AIOTP_ORACLE_PROFILE_##prof, module}

/* The format rules (core.c) and the shared rules (base.c), named by the kind modules. */
enum orc_trace_rule { RT_TRACE_1, RT_TRACE_2, RT_TRACE_3, RT_TRACE_4, RT_TRACE_5, RT_COUNT };
extern const orc_rule aiotp__orc_trace_rules[RT_COUNT];
#define TRACE_RULE(x) (&aiotp__orc_trace_rules[RT_##x])

enum orc_base_rule {
    RB_PROTO_BASE_1,
    RB_PROTO_BASE_2,
    RB_PROTO_BASE_3,
    RB_PROTO_BASE_5,
    RB_PROTO_BASE_6,
    RB_BASE_CLOSE_1,
    RB_BASE_CLOSE_2,
    RB_BASE_CLOSE_3,
    RB_BASE_CLOSE_4,
    RB_BASE_CLOSING_1,
    RB_BASE_PROTO_1,
    RB_BASE_PROTO_2,
    RB_TRANSPORT_KIND_2,
    RB_PROTO_KIND_1,
    RB_PROTO_KIND_2,
    RB_READ_2,
    RB_READ_3,
    RB_WRITE_ABORT_1,
    RB_WRITE_ABORT_2,
    RB_WRITE_ABORT_3,
    RB_WRITE_ABORT_4,
    RB_WRITE_SIZE_1,
    RB_FLOW_1,
    RB_FLOW_2,
    RB_FLOW_3,
    RB_FLOW_4,
    RB_FLOW_5,
    RB_FLOW_6,
    RB_FLOW_7,
    RB_FLOW_8,
    RB_FLOW_10,
    RB_BAD_2,
    RB_DONE_1,
    RB_COUNT
};
extern const orc_rule aiotp__orc_base_rules[RB_COUNT];
#define BASE_RULE(x) (&aiotp__orc_base_rules[RB_##x])

/* ---- names ----------------------------------------------------------------------- */

enum orc_name {
    N_CONNECTION_MADE = 0,
    N_CONNECTION_LOST,
    N_DATA_RECEIVED,
    N_EOF_RECEIVED,
    N_GET_BUFFER,
    N_BUFFER_UPDATED,
    N_PAUSE_WRITING,
    N_RESUME_WRITING,
    N_DATAGRAM_RECEIVED,
    N_ERROR_RECEIVED,
    N_PIPE_DATA_RECEIVED,
    N_PIPE_CONNECTION_LOST,
    N_PROCESS_EXITED,
    N_WRITE_DONE,           /* a write pipe's borrowed-write completion (DEV-81) */
    N_FIRST_CALL,
    N_WRITE = N_FIRST_CALL,
    N_WRITELINES,
    N_CLOSE,
    N_ABORT,
    N_PAUSE_READING,
    N_RESUME_READING,
    N_WRITE_EOF,
    N_SET_LIMITS,
    N_SET_PROTOCOL,
    N_SENDTO,
    N_SEND_SIGNAL,
    N_TERMINATE,
    N_KILL,
    N_WRITE_BORROWED,       /* the zero-copy write (DEV-81) */
    N_COUNT
};
#define ORC_BIT(n) (1u << (unsigned)(n))
/* write(), writelines() and write_borrowed(): the calls whose bytes join the stream */
#define ORC_IS_WRITE(n) ((n) == N_WRITE || (n) == N_WRITELINES || (n) == N_WRITE_BORROWED)
extern const char *const aiotp__orc_names[N_COUNT];

enum orc_query { Q_IS_CLOSING, Q_IS_READING, Q_CAN_WRITE_EOF, Q_SIZE, Q_LIMITS, Q_COUNT };
extern const char *const aiotp__orc_queries[Q_COUNT];

/* Protocol kinds (set_protocol kind=). */
enum orc_pkind { PK_UNKNOWN = 0, PK_STREAMING, PK_BUFFERED, PK_DATAGRAM, PK_SUBPROCESS };

/* ---- one parsed line ------------------------------------------------------------- */

enum orc_line_kind {
    L_HEADER,
    L_ITER,
    L_OPEN,
    L_LIMITS,
    L_PEER,
    L_CB,
    L_CALL,
    L_RET,
    L_QUERY,
    L_EXC,
    L_LOOP_EXC,
    L_OVER,     /* tN over tM / tN upgrade tM (TLS transports, format 3) */
    L_HANDSHAKE, /* tN handshake status=ST (TLS transports, format 3) */
    L_PIPE       /* tS pipe fd=F tP: the subprocess tS's pipe for its fd F is tP */
};

/* Transport kinds: the index of the kind module in core.c's list. */
enum orc_tkind {
    TK_GONE = 0,
    TK_STREAM,
    TK_DGRAM,
    TK_TLS,
    TK_PIPE_READ,
    TK_PIPE_WRITE,
    TK_SUBPROC,
    TK_COUNT
};

typedef struct orc_line {
    int kind;               /* enum orc_line_kind */
    unsigned long tid;      /* tN */
    unsigned long peer;     /* L_PEER: tM */
    unsigned version;       /* L_HEADER */
    char impl[ORC_IMPL_MAX]; /* L_HEADER, format 3 */
    int tkind;              /* L_OPEN: enum orc_tkind */
    int name;               /* L_CB/L_CALL/L_RET: enum orc_name */
    int query;              /* L_QUERY: enum orc_query */
    uint64_t iter;
    char status[ORC_STATUS_MAX];
    uint64_t n, total, size, low, high, len, count, value;
    uint32_t sum;
    uint32_t addr_hash;     /* sendto / datagram_received addr= (FNV-1a of its text) */
    bool addr_none;         /* addr=- */
    bool has_total;         /* ret write/writelines with total= and sum= */
    int64_t sizehint, h, l;
    bool h_none, l_none;
    int pkind;              /* set_protocol kind= */
    bool upgrade;           /* L_OVER: "upgrade" (start_tls) rather than "over" */
    int fd;                 /* pipe_* callbacks, L_PIPE: fd= (0..2) */
    int64_t rc;             /* process_exited returncode= */
    bool has_rc;
    uint64_t sig;           /* send_signal sig= */
} orc_line;

/* Parse a printable line (no CR/LF); false with a message in err. */
bool aiotp__orc_parse(const char *s, size_t len, unsigned version, orc_line *pl, char *err,
                      size_t errn);
bool aiotp__orc_is_status(const char *st, const char *name);

/* ---- per-transport state ----------------------------------------------------------- */

/* Closing as far as the trace shows. */
enum orc_closing {
    CL_OPEN = 0,  /* not closing */
    CL_MAYBE,     /* maybe closing: something happened whose effect belongs to a rule
                     outside the profile in force (e.g. a failing data_received under doc) */
    CL_FLUSHING,  /* close() with data buffered: connection_lost after the drain */
    CL_SCHEDULED, /* connection_lost scheduled (close with empty buffer, abort, fatal) */
    CL_UNKNOWN    /* closing, but whether flushing or scheduled is not visible */
};

/* What the transport waits for, with a pass deadline (core.c's two lists). */
enum orc_wait {
    W_NONE = 0,
    W_MADE,      /* connection_made in pass `deadline` */
    W_LOST_NEXT, /* connection_lost in pass `deadline` (scheduled in the one before) */
    W_LOST_NOW,  /* connection_lost in this pass (a closing transport's buffer drained) */
    W_DEAD       /* lost: reclaimed at the next pass (or sooner if slots run out) */
};

typedef struct orc_ring {
    size_t head; /* next slot to write */
    size_t count;
    aiotp_oracle_event ev[AIOTP_ORACLE_RECENT];
} orc_ring;

/* A stream transport's accepted writes, as its peer needs them (kept by the peer as a
   copy once the writer is reclaimed). */
typedef struct orc_tx {
    unsigned long id;
    uint64_t total;
    uint32_t sum;
    bool fin_clean; /* close/write_eof/eof_received-0 returned 0: EOF follows the data */
    bool fin_dirty; /* abort, fatal error, error status: data may be lost */
    unsigned ck_n;  /* checkpoints of (total, sum) after accepted writes */
    unsigned ck_head;
    uint64_t ck_total[ORC_CHECKPOINTS];
    uint32_t ck_sum[ORC_CHECKPOINTS];
} orc_tx;

/* What a TLS transport adds to the stream state (src/oracle/tls.c). */
typedef struct orc_tls_ext {
    unsigned long lower;   /* the stream transport below (0: not traced) */
    bool upgrade;          /* made by start_tls: its protocol gets no connection_made */
    bool handshake;        /* a handshake line came */
    bool hs_ok;            /* ... with status 0 */
    bool made_due;         /* connection_made must be its very next line */
    bool closed_by_call;   /* close() returned 0 (TLS-CLOSE-5: eof_received may follow) */
} orc_tls_ext;

typedef struct orc_stream {
    orc_tx tx;             /* this transport's accepted writes */
    orc_tx peer_final;     /* the reclaimed peer's (valid when peer_gone) */
    bool tx_seen;          /* a ret write/writelines was seen */
    bool eof;              /* eof_received called */
    bool eof_written;      /* write_eof() done */
    bool gb_pending;       /* ret get_buffer 0 len>0 was this transport's last line */
    bool switched;         /* set_protocol succeeded inside the get_buffer of gb_seq */
    uint64_t rx_total;
    uint32_t rx_sum;
    int pkind, pending_pkind; /* enum orc_pkind: current, after a set_protocol */
    uint64_t gb_len;
    uint64_t gb_seq;       /* seq of the "ret get_buffer" line */
    uint64_t gb_iter;      /* its pass */
    uint64_t done_owed;    /* write pipe: accepted write_borrowed calls whose write_done
                              has not come (PIPE-BORROW-1) */
    orc_tls_ext tls;       /* TLS transports only */
} orc_stream;

typedef struct orc_sent {
    uint64_t n;
    uint32_t sum;
    uint32_t count; /* sent (accepted) minus received */
} orc_sent;

/* Datagrams a datagram transport sent (accepted by sendto), for its peer. */
typedef struct orc_dgset {
    unsigned long id;
    unsigned n;      /* entries in use */
    unsigned next;   /* entry replaced next when full (oldest first) */
    bool evicted;    /* some were forgotten: a datagram not found is not reported */
    orc_sent e[ORC_DGRAM_SENT];
} orc_dgset;

typedef struct orc_dgram {
    orc_dgset sent;
    orc_dgset peer_final;  /* the reclaimed peer's (valid when peer_gone) */
    uint64_t rx_iter;      /* pass of the last datagram_received (0: none) */
    unsigned rx_in_iter;   /* datagram_received calls in that pass (DGRAM-RECV-1) */
    bool rx_seen;
    uint32_t peer_addr;    /* the peer's address (FNV of addr=), learned from receives */
    bool peer_addr_known;
    char err_status[ORC_STATUS_MAX]; /* last error_received status ("" none) */
    uint64_t err_iter;     /* its pass */
} orc_dgram;

/* A subprocess transport (subprocess.c). */
typedef struct orc_subproc {
    unsigned long pipe[3];  /* its pipe transport for fd 0..2 (L_PIPE), 0: none named */
    bool pipe_lost[3];      /* pipe_connection_lost(fd) called */
    bool data_seen[3];      /* pipe_data_received(fd) was called */
    uint64_t rx_total[3];   /* per fd: bytes told by pipe_data_received */
    uint32_t rx_sum[3];
    bool exited;            /* process_exited called */
    bool closed;            /* close() returned 0 */
    uint64_t last_iter;     /* pass of the last of process_exited / pipe_connection_lost */
} orc_subproc;

typedef struct orc_t orc_t;

/* The links of a transport in one of the oracle's lists (core.c: list_add, list_del). */
typedef struct orc_link {
    orc_t *next, *prev;
} orc_link;

typedef struct orc_list {
    orc_t *head, *tail;
} orc_list;

struct orc_t {
    unsigned long id;
    int tkind;             /* enum orc_tkind: index of its kind module */
    bool in_use;           /* in the live list (false: on the free list) */
    orc_link live;         /* the live list; live.next links the free list when free */
    orc_link wl;           /* the list of its wait (W_MADE/W_LOST_NEXT, W_LOST_NOW, W_DEAD) */
    orc_link xl;           /* the list of pending exception reports */
    orc_t *peer;           /* live peer */
    bool paired;           /* a peer line named it (once) */
    bool peer_gone;        /* its peer was reclaimed: u.*.peer_final holds what it sent */
    size_t segment;        /* header count when it was opened */
    bool limits_seen, made, lost;
    bool end_above;        /* the TLS transport over it ended where its callbacks are not
                              traced: its own connection_lost need not show
                              (spec/trace-format.md, TLS transports) */
    uint64_t made_iter;    /* the pass of connection_made (aiotp__orc_closed_unseen) */
    bool wpaused, rpaused, aborted;
    bool cl_by_query;      /* closing learned from a query (is_closing 1 / is_reading 0) */
    bool fin_clean, fin_dirty; /* see orc_tx */
    int cl;                /* enum orc_closing */
    int wait;              /* enum orc_wait */
    uint64_t deadline;     /* pass of the wait */
    const orc_rule *wait_rule;
    uint64_t wait_iter;    /* the pass it was set in */
    char expect[ORC_STATUS_MAX]; /* status connection_lost must carry ("" none) */
    const orc_rule *expect_rule;
    bool exc_pending;      /* a failing callback must be reported to the exception handler */
    char exc_status[ORC_STATUS_MAX];
    const orc_rule *exc_rule;
    size_t exc_depth;      /* ... before a ret pops the stack below this depth */
    size_t exc_line;
    uint64_t low, high;    /* limits in force */
    bool limits_known;     /* false for a gone transport until a line says them */
    uint64_t size;         /* write-buffer size last reported: an upper bound */
    uint64_t size_epoch;   /* it is exact while the oracle's epoch is this one */
    uint64_t size_slack;   /* bytes it may add without a traced call until its next size
                              report (a TLS layer's close_notify when it closes by itself) */
    unsigned nframes;      /* frames on the stack naming it */
    unsigned ncb;          /* ... of which callbacks */
    uint64_t seq;          /* lines of this transport so far */
    orc_ring recent;
    unsigned long owner;   /* a subprocess's pipe: the subprocess's id (L_PIPE), else 0 */
    int owner_fd;          /* ... and the child's fd it carries */
    union {
        orc_stream s;      /* stream transports, and pipe transports (the same accounting) */
        orc_dgram d;
        orc_subproc sp;
    } u;
};

/* A cb or call in progress. */
typedef struct orc_frame {
    orc_t *t;
    unsigned char name;    /* enum orc_name */
    bool is_call;
    bool lacks;            /* a method the transport's kind does not have */
    bool pre;              /* write: a nested ret showed this write already counted */
    bool closed_at_call;   /* write/sendto: connection_lost scheduled/delivered at the call */
    bool eof_at_call;      /* write: write_eof() done at the call */
    bool open_at_call;     /* write: open (no close, no fatal error) at the call */
    bool closing_at_call;  /* sendto: closing (close/abort) at the call */
    bool nested_set;       /* set_write_buffer_limits: a nested setter returned 0 in it */
    bool switched;         /* get_buffer: a set_protocol returned 0 inside it */
    bool err_inside;       /* sendto: error_received was called inside it */
    bool addr_none;        /* sendto: addr=- */
    bool hs_inside;        /* TLS: the handshake failed inside this call (close/abort) */
    uint32_t addr_hash;
    uint32_t sum;          /* sendto: the datagram's sum */
    size_t lineno;
    uint64_t n;            /* write/writelines/sendto bytes */
    uint64_t size_before;  /* sendto: size bound at the call */
    int64_t h, l;          /* set_write_buffer_limits arguments */
    bool h_none, l_none;
    int pkind;             /* set_protocol kind */
} orc_frame;

/* ---- the oracle ------------------------------------------------------------------ */

typedef struct orc_chunk orc_chunk;
struct orc_chunk {
    orc_chunk *next;
    size_t n;      /* slots */
    size_t bytes;  /* allocated */
    orc_t slot[1]; /* n of them (allocated as one block) */
};

typedef struct aiotp_oracle orc;
struct aiotp_oracle {
    aiotp_oracle_alloc alloc;
    unsigned flags;
    int cfg_profile;       /* from the configuration (0: AUTO) */
    int profile;           /* in force */
    aiotp_oracle_report_fn on_report;
    void *report_arg;
    size_t max_live;
    /* transports */
    orc_chunk *chunks;
    size_t nslots;         /* slots in all chunks */
    orc_t *free_list;
    orc_list live;         /* live transports, in opening order */
    bool any_open;         /* an id was opened (max_id is meaningful) */
    size_t nlive;          /* live transports, gone ones included */
    size_t ngone;          /* ... of which gone (they do not count against max_live) */
    orc_t **tab;           /* open addressing, linear probing, id -> live transport */
    size_t tab_cap;        /* power of two >= 2 * nslots */
    unsigned long max_id;  /* highest id opened (any loop): lower ids are reclaimed */
    unsigned long seg_max; /* highest id opened in this loop (ids increase) */
    bool seg_any;          /* an id was opened in this loop */
    orc_t *last_open;      /* the previous line was this transport's open line */
    /* pass deadlines */
    orc_list wnext;        /* W_MADE, W_LOST_NEXT: sorted by deadline */
    orc_list wnow;         /* W_LOST_NOW */
    orc_list dead;         /* W_DEAD */
    orc_list exc;          /* exception reports due */
    /* nesting */
    orc_frame stack[AIOTP_ORACLE_MAX_DEPTH];
    size_t depth;
    uint64_t epoch;        /* + 1 whenever the stack empties or a pass starts */
    /* the trace */
    bool header_seen;
    unsigned version;
    char impl[ORC_IMPL_MAX];
    uint32_t empty_sum;    /* the sum of no bytes in this version */
    size_t segment;        /* headers seen after the first */
    uint64_t iter;
    bool iter_seen;
    size_t lines;
    size_t last_lineno;
    /* results */
    bool stopped;
    int stop_code;
    size_t nviol;
    size_t *counts;        /* per rule (rule_at order) */
    bool have_first;
    aiotp_oracle_report first;
    aiotp_oracle_report err;
    aiotp_oracle_report scratch;
    orc_ring recent;
    char buf[AIOTP_ORACLE_MAX_LINE + 1];
};

/* ---- kind modules ------------------------------------------------------------------ */

/* The rule each shared check reports for a kind. */
typedef struct orc_kind_rules {
    const orc_rule *made_late;    /* connection_made not in the pass after open */
    const orc_rule *lost_twice;   /* a callback or a second connection_lost after it */
    const orc_rule *lost_early;   /* connection_lost before connection_made */
    const orc_rule *pause;        /* pause_writing: where, size > high, the limit */
    const orc_rule *resume;       /* resume_writing: outside calls, size <= low, the limit */
    const orc_rule *alternate;    /* pause/resume alternation */
    const orc_rule *setter_pause; /* over high after a setter, resume inside the setter */
    const orc_rule *abort_resume; /* resume_writing after abort() */
    const orc_rule *close_twice;  /* close() on a closing transport returned 0 */
    const orc_rule *close_lost;   /* close() with an empty buffer: lost in the next pass */
    const orc_rule *close_status; /* ... with status 0 */
    const orc_rule *abort_again;  /* abort() once lost is scheduled returned 0 */
    const orc_rule *abort_size;   /* abort() left a buffer */
    const orc_rule *abort_lost;   /* abort(): lost in the next pass */
    const orc_rule *abort_status; /* ... with status 0 */
    const orc_rule *drain_lost;   /* a closing transport's buffer drained: lost now */
    const orc_rule *closed_reading; /* is_reading() after close */
    const orc_rule *closed_data;  /* data delivered after close/abort (learned or seen) */
    const orc_rule *big_read;     /* data_received over 256 KiB (NULL: READ-1) */
} orc_kind_rules;

typedef struct orc_kind {
    const char *name;            /* "stream" */
    const orc_rule *rules;       /* its table */
    size_t nrules;
    unsigned cbs;                /* ORC_BIT(name) of its protocols' callbacks */
    unsigned calls;              /* ORC_BIT(name) of its methods */
    unsigned pause_in;           /* the calls pause_writing may lie directly inside */
    unsigned pkinds;             /* ORC_BIT(pkind) of the protocols it takes */
    orc_kind_rules r;
    void (*init)(orc *o, orc_t *ts);
    /* a cb line of one of its callbacks (before its frame is pushed) */
    int (*cb)(orc *o, orc_t *ts, const orc_line *pl);
    /* the ret of one of its callbacks (the frame popped) */
    int (*cb_ret)(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl);
    /* the call line of one of its methods (the frame just pushed) */
    void (*call)(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl);
    /* the ret of one of its methods (the frame still on the stack) */
    int (*call_ret)(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl);
    int (*query)(orc *o, orc_t *ts, const orc_line *pl);
    /* it is about to be reclaimed: hand its live peer what the peer still needs */
    void (*reclaim)(orc *o, orc_t *ts);
    bool (*valid)(const orc *o, const orc_t *ts);
    /* optional (NULL: none): the lines only this kind has (L_OVER, L_HANDSHAKE) */
    int (*line)(orc *o, orc_t *ts, const orc_line *pl);
    /* optional: may a callback of ts lie inside frame f (TRACE-4)? */
    bool (*nest_ok)(const orc *o, const orc_t *ts, const orc_frame *f);
    /* its default write limits (0: ORC_DEFAULT_LOW/HIGH) */
    uint64_t default_low, default_high;
    bool no_limits;              /* no 'limits' line after its open line (no write buffer) */
    bool ends_traced;            /* it never ends without a line of its own or of the transport
                                    below (TLS): no aiotp__orc_closed_unseen for it */
} orc_kind;

/* Rules of the kind modules the gone kind reports (a reclaimed transport's kind is not
   known any more): WRITE-WRITE-5, WRITE-EOF-3, DGRAM-SEND-4. */
extern const orc_rule *const aiotp__orc_rule_write_closed;
extern const orc_rule *const aiotp__orc_rule_write_eof_closed;
extern const orc_rule *const aiotp__orc_rule_sendto_closed;

extern const orc_kind aiotp__orc_kind_gone;
extern const orc_kind aiotp__orc_kind_stream;
extern const orc_kind aiotp__orc_kind_dgram;
extern const orc_kind aiotp__orc_kind_tls;
extern const orc_kind aiotp__orc_kind_pipe_read;
extern const orc_kind aiotp__orc_kind_pipe_write;
extern const orc_kind aiotp__orc_kind_subproc;
extern const orc_kind *const aiotp__orc_kinds[TK_COUNT];
#define KIND(ts) (aiotp__orc_kinds[(ts)->tkind])

/* ---- core services (core.c) ---------------------------------------------------------- */

/* Report a violation of rule by ts (NULL: none) at the current line; returns
   AIOTP_ORACLE_VIOLATION, or 0 when the rule is outside the profile in force. */
int aiotp__orc_violate(orc *o, const orc_t *ts, const orc_rule *rule, const char *fmt, ...)
    ORC_PRINTF(4, 5);
/* The rule is checked under the profile in force. */
bool aiotp__orc_want(const orc *o, const orc_rule *rule);
/* ts must get connection_made / connection_lost by the pass deadline (enum orc_wait). */
void aiotp__orc_wait(orc *o, orc_t *ts, int wait, const orc_rule *rule);
void aiotp__orc_unwait(orc *o, orc_t *ts);
/* A failing callback of ts must be reported to the exception handler (format 3). */
void aiotp__orc_expect_exc(orc *o, orc_t *ts, const char *status, const orc_rule *rule);
void aiotp__orc_exc_done(orc *o, orc_t *ts);
/* ts lies inside one of its own callbacks: its state is exactly what the trace shows */
bool aiotp__orc_fresh(const orc *o, const orc_t *ts);
/* The innermost frame, or NULL. */
orc_frame *aiotp__orc_top(orc *o);
uint32_t aiotp__orc_fnv(const char *p, size_t n);
/* Two results of rule checks (each 0 or AIOTP_ORACLE_VIOLATION) together; both are
   evaluated, so a second check always runs. */
#define ORC_RC(a, b) ((a) | (b))

/* ---- shared rules (base.c) --------------------------------------------------------- */

/* A cb line: after connection_lost (false: stop looking at it), nesting (TRACE-4). */
bool aiotp__orc_cb_start(orc *o, orc_t *ts, const orc_line *pl, int *rc);
int aiotp__orc_made(orc *o, orc_t *ts, const orc_line *pl);
int aiotp__orc_lost(orc *o, orc_t *ts, const orc_line *pl);
int aiotp__orc_pause(orc *o, orc_t *ts, const orc_line *pl);
/* nested: the result of aiotp__orc_cb_start (a nested resume is judged there alone) */
int aiotp__orc_resume(orc *o, orc_t *ts, const orc_line *pl, int nested);
/* the ret of connection_made/connection_lost/pause_writing/resume_writing */
int aiotp__orc_base_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl);
/* A callback of ts failed with status: rule says what follows (fatal: the transport
   closes with that status; else it carries on) and that it is reported to the exception
   handler; outside the profile the oracle only knows the transport may be closing. */
void aiotp__orc_failed(orc *o, orc_t *ts, const char *status, const orc_rule *rule,
                       bool fatal);
/* The transport closes itself with status (send error), under rule. */
void aiotp__orc_fatal(orc *o, orc_t *ts, const char *status, const orc_rule *rule);
/* Calls after connection_lost (BAD-2); false: the ret is fully judged. */
bool aiotp__orc_after_lost(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl,
                           int *rc);
/* the rets of close, abort, pause_reading, resume_reading, set_write_buffer_limits,
   set_protocol */
int aiotp__orc_base_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl);
/* over high after a synchronous growth or limit change means paused */
int aiotp__orc_missed_pause(orc *o, orc_t *ts, uint64_t size, const orc_rule *rule);
bool aiotp__orc_derive_limits(const orc_frame *f, uint64_t *low, uint64_t *high);
void aiotp__orc_set_size(orc *o, orc_t *ts, uint64_t size);
/* the stream module's callbacks, methods and queries, for the TLS module (stream.c) */
int aiotp__orc_stream_cb(orc *o, orc_t *ts, const orc_line *pl);
int aiotp__orc_stream_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl);
void aiotp__orc_stream_call(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl);
int aiotp__orc_stream_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl);
int aiotp__orc_stream_query(orc *o, orc_t *ts, const orc_line *pl);
void aiotp__orc_stream_init(orc *o, orc_t *ts);
void aiotp__orc_stream_reclaim(orc *o, orc_t *ts);
bool aiotp__orc_stream_valid(const orc *o, const orc_t *ts);
/* the limits line after open (FLOW-1, FLOW-3) */
int aiotp__orc_limits_line(orc *o, orc_t *ts, const orc_line *pl);
/* the queries every kind answers (is_closing, is_reading, sizes, limits) */
int aiotp__orc_query(orc *o, orc_t *ts, const orc_line *pl);
/* tN exc status=ST ... */
int aiotp__orc_exc(orc *o, orc_t *ts, const orc_line *pl);
/* closing for sure (flushing, lost scheduled, or for a reason not shown) */
bool aiotp__orc_closing(const orc_t *ts);
/* data delivered: not after close/abort (rule) or a closing learned from a query */
int aiotp__orc_not_closing(orc *o, orc_t *ts, const char *what);
/* ECLOSED from a call on a transport the trace shows open (made, no close, no lost): an OS
   error ended it without a trace line (outside debug mode they are not reported: a failed
   send while draining, a read error; a pipe's end of file before eof_received), so it is
   closing from now on, by something the trace does not show (as close_ret's CL_UNKNOWN).
   True when it applied. by_io: the cause can only be I/O (not the call itself), so not in
   the pass of connection_made, before any I/O of the transport. */
bool aiotp__orc_closed_unseen(orc *o, orc_t *ts, bool by_io);
bool aiotp__orc_base_valid(const orc *o, const orc_t *ts);

/* ---- what the pipe kinds share with streams (stream.c) ------------------------------- */

/* (aiotp__orc_stream_init and aiotp__orc_stream_call above; the ret of write/writelines:
   accepted whole, running totals) */
int aiotp__orc_stream_write_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl);

/* Borrowed writes (DEV-81; the kind's rule: PIPE-BORROW-1, WRITE-BORROW-1): the ret of a
   write_borrowed (an accepted one, n > 0, owes one write_done), a write_done (one must be
   owed), connection_lost (none may be owed). */
void aiotp__orc_borrowed_ret(orc_t *ts, const orc_frame *f, const orc_line *pl);
int aiotp__orc_write_done(orc *o, orc_t *ts, const orc_rule *rule);
int aiotp__orc_done_owed(orc *o, orc_t *ts, const orc_rule *rule);

/* A subprocess's callback nested in a callback of its own pipe (TRACE-4 allows it). */
bool aiotp__orc_subproc_nested_ok(const orc *o, const orc_t *ts, const orc_line *pl,
                                  const orc_frame *f);

#endif /* AIOTP_ORACLE_INT_H */
