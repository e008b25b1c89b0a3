# Run aiotp-trace-check for the oracle.* CTests (tools/CMakeLists.txt).
#   -DMODE=file   -DCHECK=checker -DTRACE=file.trace
#        the trace's "# expect: exit=N [rule=ID] [line=L]" line gives the expected result
#   -DMODE=demo   -DCHECK=checker -DDEMO=demo      demo | sed 's/^  | //' | checker -
#   -DMODE=python -DCHECK=checker -DPYTHON=python3 -DSCRIPT=aiotp_trace.py
#        python3 aiotp_trace.py | checker --require-lost -
cmake_minimum_required(VERSION 3.16)

if(MODE STREQUAL "file")
  file(STRINGS ${TRACE} expect_lines REGEX "^# expect:")
  list(LENGTH expect_lines n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "${TRACE}: exactly one '# expect:' line needed")
  endif()
  string(REGEX MATCH "exit=([0-9])" _ "${expect_lines}")
  set(want_exit ${CMAKE_MATCH_1})
  set(want_rule "")
  set(want_line "")
  if(expect_lines MATCHES "rule=([A-Z0-9-]+)")
    set(want_rule ${CMAKE_MATCH_1})
  endif()
  if(expect_lines MATCHES "line=([0-9]+)")
    set(want_line ${CMAKE_MATCH_1})
  endif()
  set(args "")
  if(expect_lines MATCHES "--require-lost")
    set(args --require-lost)
  endif()
  execute_process(COMMAND ${CHECK} ${args} ${TRACE}
                  RESULT_VARIABLE got_exit OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT got_exit STREQUAL want_exit)
    message(FATAL_ERROR "exit status ${got_exit}, ${want_exit} expected")
  endif()
  if(want_exit STREQUAL "0")
    return()
  endif()
  get_filename_component(tfile ${TRACE} NAME)
  if(NOT want_line STREQUAL "")
    if(want_rule STREQUAL "")
      set(pat "${tfile}:${want_line}: (parse error|limit): ")
    else()
      set(pat "${tfile}:${want_line}: ${want_rule}: ")
    endif()
    if(NOT out MATCHES "${pat}")
      message(FATAL_ERROR "output does not report '${pat}'")
    endif()
  elseif(NOT want_rule STREQUAL "" AND NOT out MATCHES ": ${want_rule}: ")
    message(FATAL_ERROR "output does not name rule ${want_rule}")
  endif()
elseif(MODE STREQUAL "demo")
  execute_process(COMMAND ${DEMO}
                  COMMAND sed -n "s/^  | //p"
                  COMMAND ${CHECK} --require-lost -
                  RESULTS_VARIABLE codes OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT codes STREQUAL "0;0;0")
    message(FATAL_ERROR "exit statuses (demo;sed;checker): ${codes}")
  endif()
elseif(MODE STREQUAL "python")
  execute_process(COMMAND ${PYTHON} ${SCRIPT}
                  COMMAND ${CHECK} --require-lost -
                  RESULTS_VARIABLE codes OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT codes STREQUAL "0;0")
    message(FATAL_ERROR "exit statuses (python;checker): ${codes}")
  endif()
  # the recorder pairs the two ends of each loopback connection (format 2), so the
  # oracle compared the bytes each side received with what the other wrote
  execute_process(COMMAND ${PYTHON} ${SCRIPT} RESULT_VARIABLE rc OUTPUT_VARIABLE trace)
  string(REGEX MATCHALL "\nt[0-9]+ peer t[0-9]+\n" peers "${trace}")
  list(LENGTH peers npeers)
  if(NOT rc EQUAL 0 OR npeers LESS 2 OR NOT trace MATCHES "^aiotp-trace 2\n")
    message(FATAL_ERROR "the CPython trace should start with 'aiotp-trace 2' and pair "
                        "both connections (peer lines found: ${npeers})")
  endif()
else()
  message(FATAL_ERROR "unknown MODE ${MODE}")
endif()
