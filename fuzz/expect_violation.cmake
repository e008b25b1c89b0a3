# Run ${BIN} ${CORPUS} (or ${BIN} < ${INPUT}) and succeed only if it reports a violation
# matching ${PATTERN} (the harness and the drivers print "FUZZ VIOLATION [RULE] ..." and
# abort). Used by the negative CTests.
if(DEFINED INPUT)
  execute_process(COMMAND ${BIN} INPUT_FILE ${INPUT} RESULT_VARIABLE rv OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
else()
  execute_process(COMMAND ${BIN} ${CORPUS} RESULT_VARIABLE rv OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
endif()
if("${err}" MATCHES "${PATTERN}")
  string(REGEX MATCH "FUZZ VIOLATION[^\n]*" line "${err}")
  message(STATUS "found as expected: ${line}")
else()
  message(FATAL_ERROR "no violation matching '${PATTERN}' (exit ${rv}):\n${out}\n${err}")
endif()
