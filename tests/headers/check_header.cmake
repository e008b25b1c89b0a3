# tests/headers/check_header.cmake - compile one public header alone, included twice,
# as a consumer would: strict C99 or C++11, -Wall -Wextra -Wpedantic -Werror, no
# feature-test macro. (CTests header.c99.<name> and header.cxx.<name>.)
#   cmake -DCOMPILER=cc -DLANG=c99|cxx -DHEADER=loop.h -DINCLUDES="dir1|dir2" -DWORK=dir
#         -P check_header.cmake
# -DSOURCE=file compiles that file instead of a generated one.
if(NOT COMPILER)
  message(FATAL_ERROR "no compiler for ${LANG} (C++: apt-get install g++, or scripts/setup.sh)")
endif()
file(MAKE_DIRECTORY ${WORK})
string(REPLACE "|" ";" includes "${INCLUDES}")
set(flags -Wall -Wextra -Wpedantic -Werror -fsyntax-only)
foreach(dir IN LISTS includes)
  list(APPEND flags -I${dir})
endforeach()
if(LANG STREQUAL "c99")
  list(APPEND flags -std=c99 -Wstrict-prototypes -Wmissing-prototypes -Wshadow -x c)
  set(ext c)
else()
  list(APPEND flags -std=c++11 -Wshadow -x c++)
  set(ext cpp)
endif()
if(NOT SOURCE)
  string(REPLACE "." "_" stem "${HEADER}")
  set(SOURCE ${WORK}/${stem}.${ext})
  # twice: the include guard; the typedef: a translation unit must not be empty in C
  file(WRITE ${SOURCE} "#include \"aiotp/${HEADER}\"\n#include \"aiotp/${HEADER}\"\n"
                       "typedef int aiotp_header_check_${stem};\n")
endif()
execute_process(COMMAND ${COMPILER} ${flags} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${COMPILER} ${flags} ${SOURCE}\n${out}")
endif()
