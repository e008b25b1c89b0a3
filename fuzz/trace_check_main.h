/*
 * fuzz/trace_check_main.h - forced into tools/aiotp_trace_check.c when fuzz_trace compiles
 * it with -Dmain=aiotp_trace_check_main (fuzz/CMakeLists.txt): the command line's own
 * main(), argument parsing, line reading and report printing, called in-process by the
 * fuzz target with a temporary file. The tool's source is not changed.
 */
#ifndef AIOTP_TRACE_CHECK_MAIN_H
#define AIOTP_TRACE_CHECK_MAIN_H

int aiotp_trace_check_main(int argc, char **argv);

#endif /* AIOTP_TRACE_CHECK_MAIN_H */
