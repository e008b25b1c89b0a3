/**
 * @file
 * @brief Pipe transports: the loop methods connect_read_pipe and connect_write_pipe.
 *
 * A read pipe is an aiotp_transport of kind #AIOTP_TRANSPORT_PIPE_READ (ReadTransport:
 * close, is_closing, pause_reading, resume_reading, is_reading, get_extra_info("pipe"),
 * set_protocol) talking to a #AIOTP_PROTOCOL_STREAMING table (connection_made,
 * data_received, eof_received, connection_lost). A write pipe is of kind
 * #AIOTP_TRANSPORT_PIPE_WRITE (WriteTransport: write, writelines, write_eof,
 * can_write_eof, abort, close, the write-buffer limits) talking to a STREAMING or BUFFERED
 * table of which it calls the BaseProtocol callbacks only (connection_made,
 * pause_writing, resume_writing, connection_lost). The other methods return
 * #AIOTP_ENOTSUP (spec/transports.md). How they behave: spec/pipe-transport.md and the
 * PIPE-* rules of spec/rules.md.
 *
 * Completion model and error codes as the other loop methods (aiotp/server.h): the method
 * returns 0 when the operation started, and the completion is called once, from the loop,
 * after the protocol's connection_made, with status 0 and the transport, or with a
 * negative status and NULL. From the moment the method returns 0 the fd belongs to the
 * loop: the transport closes it after its connection_lost, and a failed operation (the
 * factory refused) closes it too.
 */
#ifndef AIOTP_PIPE_H
#define AIOTP_PIPE_H

#include "aiotp/export.h"
#include "aiotp/loop.h"
#include "aiotp/protocol.h"
#include "aiotp/server.h"
#include "aiotp/transport.h"

AIOTP_BEGIN_DECLS

/**
 * Make a read pipe of fd (asyncio loop.connect_read_pipe): the fd is made non-blocking
 * (which its other holders see too) and read in chunks of up to 256 KiB, each passed to
 * data_received. At end of file the transport closes itself: eof_received (whose result
 * is ignored: a read pipe cannot stay half open) and connection_lost(0) follow, back to
 * back, in the next pass.
 *
 * @param loop the loop.
 * @param factory called once, in the next pass, for the protocol.
 * @param factory_arg its argument.
 * @param fd the read end of a pipe or FIFO, a socket, or a character device (a terminal).
 * @param cb the completion.
 * @param cb_arg its argument.
 * @return 0 (the completion follows), or without calling it and without changing
 *         anything (no registration, no fd flag, no callback): #AIOTP_EINVAL (loop,
 *         factory or cb NULL), #AIOTP_EBADF (fd negative or closed), #AIOTP_ENOTPIPE (a
 *         regular file, a directory, ...), #AIOTP_EBUSY (fd belongs to a live transport,
 *         server or pending operation of this loop), #AIOTP_ENOMEM, or the errno of
 *         fstat/fcntl. Completion statuses: #AIOTP_EPROTOKIND / #AIOTP_EINVAL (the
 *         factory's table is not a STREAMING table; named in the exception handler), the
 *         factory's own error, #AIOTP_ENOMEM.
 */
int aiotp_loop_connect_read_pipe(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                 void *factory_arg, int fd, aiotp_connect_cb cb, void *cb_arg);

/**
 * Make a write pipe of fd (asyncio loop.connect_write_pipe): the fd is made non-blocking;
 * write() sends at once while the pipe takes the bytes and queues the rest (flow control
 * with the usual limits, 16 KiB / 64 KiB; resume_writing only once the queue is empty, as
 * CPython); write_eof() is close() (a pipe has no half-close: the reader sees end of file
 * once the queue is flushed and the fd closed). A pipe, FIFO or socket is also watched
 * for reading: when the reader goes away the transport closes with
 * connection_lost(-EPIPE) if bytes were still queued (they are lost), else
 * connection_lost(0), in the next pass. Writes never raise SIGPIPE.
 *
 * @param loop the loop.
 * @param factory called once, in the next pass, for the protocol.
 * @param factory_arg its argument.
 * @param fd the write end of a pipe or FIFO, a socket, or a character device.
 * @param cb the completion.
 * @param cb_arg its argument.
 * @return as aiotp_loop_connect_read_pipe(); the factory's table must be a STREAMING or
 *         BUFFERED table.
 */
int aiotp_loop_connect_write_pipe(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                  void *factory_arg, int fd, aiotp_connect_cb cb, void *cb_arg);

AIOTP_END_DECLS

#endif /* AIOTP_PIPE_H */
