# tests/package/install_tree.cmake - fixture of the package.* CTests: configure aiotp from
# the source tree alone (libraries and the trace checker, warnings as errors), build it,
# and install it into PREFIX with `cmake --install --prefix` (the configured prefix is a
# path that does not exist: the installed files must not depend on it), then check what
# was installed.
#   cmake -DSOURCE=<repo> -DBUILD=<dir> -DPREFIX=<dir> -DSHARED=ON|OFF [-DTLS=ON]
#         -DSOVERSION=<n> -DOBJDUMP=objdump -DCC=<c compiler> -DGENERATOR=<generator>
#         -P install_tree.cmake
include(${CMAKE_CURRENT_LIST_DIR}/run.cmake)
file(REMOVE_RECURSE ${BUILD} ${PREFIX})
aiotp_run("configure"
  ${CMAKE_COMMAND} -S ${SOURCE} -B ${BUILD} -G ${GENERATOR}
  -DCMAKE_C_COMPILER=${CC} -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DBUILD_SHARED_LIBS=${SHARED} -DAIOTP_WERROR=ON
  -DAIOTP_TESTS=OFF -DAIOTP_EXAMPLES=OFF -DAIOTP_DOCS=OFF -DAIOTP_FUZZ=OFF
  -DAIOTP_TOOLS=ON -DAIOTP_INSTALL=ON -DAIOTP_TLS=${TLS}
  -DCMAKE_INSTALL_PREFIX=/nonexistent/aiotp-configured-prefix)
aiotp_run("build" ${CMAKE_COMMAND} --build ${BUILD} -j 2)
aiotp_run("install" ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX})

# what must be there (libdir is lib or lib64 or lib/<multiarch>: look it up)
file(GLOB_RECURSE configs ${PREFIX}/*/aiotpConfig.cmake)
list(LENGTH configs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one aiotpConfig.cmake under ${PREFIX}, found: ${configs}")
endif()
get_filename_component(libdir ${configs} DIRECTORY)      # <libdir>/cmake/aiotp
get_filename_component(libdir ${libdir}/../.. ABSOLUTE)
if(SHARED)
  set(suffix .so)
else()
  set(suffix .a)
endif()
set(missing "")
foreach(f include/aiotp/aiotp.h include/aiotp/version.h include/aiotp/export.h
          include/aiotp/sim.h include/aiotp/oracle.h bin/aiotp-trace-check)
  if(NOT EXISTS ${PREFIX}/${f})
    list(APPEND missing ${f})
  endif()
endforeach()
foreach(f libaiotp${suffix} libaiotp_sim${suffix} libaiotp_oracle${suffix}
          cmake/aiotp/aiotpConfigVersion.cmake pkgconfig/aiotp.pc pkgconfig/aiotp-sim.pc
          pkgconfig/aiotp-oracle.pc)
  if(NOT EXISTS ${libdir}/${f})
    list(APPEND missing ${libdir}/${f})
  endif()
endforeach()
if(TLS)
  # the TLS library, its header and pkg-config file (AIOTP_TLS)
  foreach(f libaiotp_tls${suffix} pkgconfig/aiotp-tls.pc)
    if(NOT EXISTS ${libdir}/${f})
      list(APPEND missing ${libdir}/${f})
    endif()
  endforeach()
  if(NOT EXISTS ${PREFIX}/include/aiotp/tls.h)
    list(APPEND missing include/aiotp/tls.h)
  endif()
endif()
if(SHARED AND NOT EXISTS ${libdir}/libaiotp.so.${SOVERSION})
  list(APPEND missing "libaiotp.so.${SOVERSION} (the SONAME link)")
endif()
file(GLOB unwanted ${libdir}/libaiotp_internal* ${libdir}/libaiotp_core*)
if(unwanted)
  message(FATAL_ERROR "internal libraries were installed: ${unwanted}")
endif()
if(missing)
  message(FATAL_ERROR "not installed: ${missing}")
endif()
if(SHARED)
  set(libs aiotp aiotp_sim aiotp_oracle)
  if(TLS)
    list(APPEND libs aiotp_tls)
  endif()
  foreach(lib ${libs})
    aiotp_run("objdump -p" ${OBJDUMP} -p ${libdir}/lib${lib}.so)
    if(NOT out MATCHES "SONAME +lib${lib}\\.so\\.${SOVERSION}\n")
      message(FATAL_ERROR "lib${lib}.so: SONAME is not lib${lib}.so.${SOVERSION}:\n${out}")
    endif()
  endforeach()
endif()
# the installed trace checker runs from the prefix (shared: finds its library by RPATH)
aiotp_run("the installed aiotp-trace-check --help" ${PREFIX}/bin/aiotp-trace-check --help)
if(NOT out MATCHES "usage: aiotp-trace-check")
  message(FATAL_ERROR "installed aiotp-trace-check --help printed:\n${out}")
endif()
file(WRITE ${PREFIX}/libdir.txt ${libdir})
message("aiotp installed in ${PREFIX} (libraries in ${libdir})")
