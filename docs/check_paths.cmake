# docs/check_paths.cmake - the CTest docs.no_outside_paths: the repository's documents
# (every Markdown file outside build directories, and the public headers) never point
# outside the repository. Upstream documents are named and linked by public URL.
# Fails on
#   - an absolute path into a machine's file system (a home, root, mount or work
#     directory, or a file:// address: the patterns are below);
#   - a relative path ("../x", a Markdown link) that leaves the repository;
#   - a relative Markdown link to a file that does not exist.
#   cmake -DROOT=<repository> -P check_paths.cmake
get_filename_component(ROOT "${ROOT}" REALPATH)
file(GLOB_RECURSE docs LIST_DIRECTORIES false RELATIVE ${ROOT}
     ${ROOT}/*.md ${ROOT}/include/*.h ${ROOT}/include/*.h.in)
set(problems "")
set(nfiles 0)
foreach(rel IN LISTS docs)
  if(rel MATCHES "^(build|\\.git)/" OR rel MATCHES "/build[^/]*/")
    continue()
  endif()
  math(EXPR nfiles "${nfiles} + 1")
  set(path ${ROOT}/${rel})
  get_filename_component(dir ${path} DIRECTORY)
  # one list element per line: ';', '[' and ']' would disturb CMake's lists
  file(READ ${path} text)
  string(REPLACE ";" "<SC>" text "${text}")
  string(REPLACE "[" "<LB>" text "${text}")
  string(REPLACE "]" "<RB>" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(lineno 0)
  foreach(line IN LISTS lines)
    math(EXPR lineno "${lineno} + 1")
    if(line MATCHES "(^|[^A-Za-z0-9_.~-])(/(work|home|root|Users|mnt)/[^ `)\"']*|file://[^ `)\"']*)")
      string(APPEND problems "${rel}:${lineno}: absolute path ${CMAKE_MATCH_2}\n")
    endif()
    # relative paths that climb: ../x, ../../x (in links, code spans or prose)
    string(REGEX MATCHALL "(\\.\\./)+[A-Za-z0-9_.*/-]*" ups "${line}")
    foreach(up IN LISTS ups)
      get_filename_component(abs "${dir}/${up}" ABSOLUTE)
      string(FIND "${abs}/" "${ROOT}/" at)
      if(NOT at EQUAL 0)
        string(APPEND problems "${rel}:${lineno}: ${up} leaves the repository\n")
      endif()
    endforeach()
    # Markdown links to files of the repository must exist
    string(REGEX MATCHALL "<RB>\\([^)# ]+" links "${line}")
    foreach(link IN LISTS links)
      string(REGEX REPLACE "^<RB>\\(" "" target "${link}")
      if(target MATCHES "^[a-z]+:" OR rel MATCHES "\\.h(\\.in)?$")
        continue()
      endif()
      get_filename_component(abs "${dir}/${target}" ABSOLUTE)
      string(FIND "${abs}/" "${ROOT}/" at)
      if(NOT at EQUAL 0)
        string(APPEND problems "${rel}:${lineno}: link ${target} leaves the repository\n")
      elseif(NOT EXISTS ${abs})
        string(APPEND problems "${rel}:${lineno}: link ${target}: no such file\n")
      endif()
    endforeach()
  endforeach()
endforeach()
if(NOT problems STREQUAL "")
  message(FATAL_ERROR "paths outside the repository or broken links:\n${problems}")
endif()
message("${nfiles} documents: no path outside the repository, no broken link")
