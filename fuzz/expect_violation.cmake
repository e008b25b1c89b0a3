# Run ${BIN} ${CORPUS} and succeed only if it reports a violation matching ${PATTERN}
# (the harness prints "FUZZ VIOLATION [RULE] ..." and aborts). Used by the negative CTest.
execute_process(COMMAND ${BIN} ${CORPUS} RESULT_VARIABLE rv OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if("${err}" MATCHES "${PATTERN}")
  string(REGEX MATCH "FUZZ VIOLATION[^\n]*" line "${err}")
  message(STATUS "found as expected: ${line}")
else()
  message(FATAL_ERROR "no violation matching '${PATTERN}' (exit ${rv}):\n${out}\n${err}")
endif()
