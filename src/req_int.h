/*
 * src/req_int.h - pending asynchronous loop operations (connect, listen, wrap).
 *
 * A request lives from the loop method call until its completion callback has run.
 * Its steps run from the loop (never inside the method call), so the completion is
 * always asynchronous (METH-1). src/req.c keeps them (layer 2, spec/architecture.md);
 * connect.c and server.c run their steps.
 */
#ifndef AIOTP_REQ_INT_H
#define AIOTP_REQ_INT_H

#include <sys/socket.h>
#include <sys/un.h>

#include "layer_int.h"
#include "loop_int.h"
#include "ops_int.h"
#include "resolve_int.h"

typedef enum aiotp__req_kind {
    AIOTP__REQ_CONNECT_TCP = 0, /* resolve host:port, try each address */
    AIOTP__REQ_CONNECT_UNIX,    /* connect to a path */
    AIOTP__REQ_WRAP,            /* an existing connected / accepted socket */
    AIOTP__REQ_LISTEN_TCP,      /* resolve, bind and listen */
    AIOTP__REQ_LISTEN_UNIX
} aiotp__req_kind;

typedef enum aiotp__req_state {
    AIOTP__REQ_QUEUED = 0,   /* first step scheduled */
    AIOTP__REQ_RESOLVING,    /* a worker resolves the host (`query`) */
    AIOTP__REQ_CONNECTING,   /* waiting for a non-blocking connect() */
    AIOTP__REQ_CANCELLED,    /* cancelled: the completion is queued (OP-1) */
    AIOTP__REQ_DONE          /* completion delivered or being delivered */
} aiotp__req_state;

struct aiotp__req {
    aiotp__obj obj;        /* the loop's object header: first */
    aiotp__op op;          /* the pending operation's number (aiotp_loop_cancel_op) */
    aiotp_loop *loop;
    aiotp__req_kind kind;
    aiotp__req_state state;
    aiotp_protocol_factory_fn factory;
    void *factory_arg;
    aiotp_connect_cb ccb;  /* connections */
    aiotp_server_cb scb;   /* servers */
    void *cb_arg;
    char *host;            /* copies of the arguments */
    int port;
    int family;
    int fd;                /* socket being connected / wrapped, -1 if none */
    aiotp__addrs addrs;    /* resolved addresses */
    struct addrinfo *cur;  /* address being tried */
    aiotp__query *query;   /* AIOTP__REQ_RESOLVING: the worker's query */
    aiotp_handle step;     /* AIOTP__REQ_QUEUED: the first step */
    aiotp_handle timer;    /* the timeout (OP-3), 0 if none */
    bool reserved;         /* a ready-queue entry is reserved for a cancelled completion */
    int cancel_status;     /* AIOTP__REQ_CANCELLED: AIOTP_ECANCELED or -ETIMEDOUT */
    int first_err;         /* error of the first failed attempt */
    int last_err;          /* error of the latest failed attempt */
    bool all_same;         /* every attempt failed with the same error */
    struct sockaddr_un un; /* unix path */
    socklen_t un_len;
    aiotp_server_options sopts;
    /* a layered (TLS) connection or server: the context (retained while the request
       lives), its parameters, and lp.server_hostname pointing to the request's own copy
       (NULL: none) */
    const aiotp_tls_context *tls;
    aiotp__layer_params lp;
};

/* Allocate a request (copies host), link it into the loop, schedule `step`, register its
   operation (its number to *op when op is not NULL) and, with timeout > 0, its timeout
   (the completion then gets -ETIMEDOUT). */
int aiotp__req_start(aiotp_loop *loop, struct aiotp__req *tmpl, const char *host,
                     aiotp_callback_fn step, aiotp_op *op, aiotp_time timeout);
/* The operation can no longer be cancelled (its result is being made, or it failed):
   unregister it, stop its timeout. */
void aiotp__req_settle(struct aiotp__req *r);
/* METH-8: may the user's socket `sock` be wrapped (connect_accepted_socket,
   create_connection(sock=), create_server(sock=))? 0, AIOTP_EBADF (negative),
   AIOTP_EBUSY (it belongs to a live transport, server or pending request of this loop),
   AIOTP_ENOMEM (no registry slot for it). */
int aiotp__req_claim_fd(aiotp_loop *loop, int sock);
/* The start of a one-step request (pipe, subprocess): `size` zeroed bytes whose `step`
   runs in the next pass with them as its argument (its handle to *h). NULL with *rc set
   (AIOTP_ENOMEM, or the scheduling error) when either fails; nothing is left behind then. */
void *aiotp__req_alloc_soon(aiotp_loop *loop, size_t size, aiotp_callback_fn step,
                            aiotp_handle *h, int *rc);
/* Unlink and free (closes fd, frees addrinfo). */
void aiotp__req_free(struct aiotp__req *r);
/* Report a protocol table that a factory returned and the transport refused, naming the
   problem (`why`), through the exception handler. */
void aiotp__report_bad_table(aiotp_loop *loop, const char *who, int status, const char *why,
                             aiotp_server *server);
/* Fill a sockaddr_un from a path. */
int aiotp__unix_addr(const char *path, struct sockaddr_un *un, socklen_t *len);

/* server.c entry points for the listen requests */
void aiotp__listen_step(aiotp_loop *loop, void *arg);

#endif /* AIOTP_REQ_INT_H */
