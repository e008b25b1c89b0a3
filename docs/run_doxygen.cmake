# docs/run_doxygen.cmake - the CTest docs.api_reference: run Doxygen, fail on any warning
# (its log and its own stderr) and print them all.
#   cmake -DDOXYGEN=doxygen -DDOXYFILE=Doxyfile -DWARNINGS=log -P run_doxygen.cmake
if(NOT DOXYGEN)
  message(FATAL_ERROR "doxygen not found: install it (Debian: apt-get install doxygen, "
                      "or scripts/setup.sh) and configure again")
endif()
file(REMOVE ${WARNINGS})
get_filename_component(dir ${DOXYFILE} DIRECTORY)
execute_process(COMMAND ${DOXYGEN} ${DOXYFILE} WORKING_DIRECTORY ${dir}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(log "")
if(EXISTS ${WARNINGS})
  file(READ ${WARNINGS} log)
endif()
string(STRIP "${log}" log)
string(STRIP "${err}" err)
if(NOT rc EQUAL 0 OR NOT log STREQUAL "" OR NOT err STREQUAL "")
  message(FATAL_ERROR "doxygen (exit ${rc}) warned:\n${log}\n${err}")
endif()
get_filename_component(out_dir ${WARNINGS} DIRECTORY)
message("API reference without warnings: ${out_dir}/api/html/index.html")
