/*
 * src/layer.c - what libaiotp lends a transport kind layered on its stream transports
 * (src/layer_int.h): one table of its internal functions, handed to the TLS library with
 * every wrap and through the stream transport's method table. The TLS library, built as
 * its own shared library, cannot link these hidden functions directly.
 *
 * Layer 4 (spec/architecture.md): it names the stream transport (layer 3) and the
 * request helpers (layer 2).
 */
#include "layer_int.h"
#include "checksum.h"
#include "stream_int.h"

static int stream_create(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                         const struct sockaddr *peer, socklen_t peer_len, aiotp_transport **out)
{
    return aiotp__stream_create(loop, fd, proto, pdata, peer, peer_len, NULL, NULL, out, NULL);
}

static int stream_open(aiotp_transport *t)
{
    aiotp__stream *s = aiotp__stream_of(t);
    if (s == NULL) {
        return AIOTP_EINVAL;
    }
    if (s->st.life != AIOTP__LIFE_OPEN || s->st.wr != AIOTP__WR_OPEN ||
        s->st.ph != AIOTP__PH_CONNECTED) {
        return AIOTP_ECLOSED;
    }
    return 0;
}

const aiotp__layer_services aiotp__layer_svc = {
    .alloc = aiotp__alloc,
    .free = aiotp__free,
    .tracef = aiotp__tracef,
    .obj_unlink = aiotp__obj_unlink,
    .obj_find = aiotp__obj_find,
    .rq_reserve = aiotp__rq_reserve,
    .rq_unreserve = aiotp__rq_unreserve,
    .push_promised = aiotp__push_promised,
    .crc32 = aiotp__crc32,
    .op_register_as = aiotp__op_register_as,
    .op_done = aiotp__op_done,
    .transport_init = aiotp__transport_init,
    .check_protocol = aiotp__transport_check_protocol,
    .report = aiotp__transport_report,
    .hold = aiotp__transport_hold,
    .drop = aiotp__transport_drop,
    .release_later = aiotp__transport_release_later,
    .notify_lost = aiotp__transport_notify_lost,
    .fmt_addr = aiotp__fmt_addr,
    .status_name = aiotp__status_name,
    .stream_create = stream_create,
    .stream_open = stream_open,
    .params_init = aiotp__layer_params_init,
    .flow_init = aiotp__flow_init,
    .flow_set_limits = aiotp__flow_set_limits,
    .flow_check_pause = aiotp__flow_check_pause,
    .flow_check_resume = aiotp__flow_check_resume,
    .wbuf_init = aiotp__wbuf_init,
    .wbuf_size = aiotp__wbuf_size,
    .wbuf_space = aiotp__wbuf_space,
    .wbuf_clear = aiotp__wbuf_clear,
    .wbuf_commit = aiotp__wbuf_commit,
    .wbuf_consume = aiotp__wbuf_consume,
    .wbuf_data_segments = aiotp__wbuf_data_segments,
    .wq_reserve = aiotp__wq_reserve,
    .wq_append = aiotp__wq_append,
};
