# tests/package/run.cmake - included by the package scripts.
# aiotp_run(<what> <command> [args...]): run the command; on a non-zero exit stop the
# script with <what>, the command line, its output and its errors. Sets `out` (the
# command's standard output) in the caller's scope.
function(aiotp_run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout
                  ERROR_VARIABLE stderr)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}):\n${cmd}\n${stdout}\n${stderr}")
  endif()
  set(out "${stdout}" PARENT_SCOPE)
endfunction()
