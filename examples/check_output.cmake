# examples/check_output.cmake - run PROG and require exit status 0 and exactly EXPECT
# on stdout (a trailing newline is ignored).
#   cmake -DPROG=/path/to/program -DEXPECT=text -P check_output.cmake
execute_process(COMMAND ${PROG}
                RESULT_VARIABLE rc
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err
                TIMEOUT 20)
string(REGEX REPLACE "\n$" "" out "${out}")
message("${out}")
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "${PROG} exited with '${rc}'\n${err}")
endif()
if(NOT out STREQUAL EXPECT)
  message(FATAL_ERROR "${PROG} printed:\n${out}\nexpected:\n${EXPECT}\n${err}")
endif()
