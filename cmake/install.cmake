# cmake/install.cmake - install rules (AIOTP_INSTALL, on when aiotp is the top-level project).
#   include/aiotp/*.h + the generated version.h       ${includedir}/aiotp/
#   libaiotp, libaiotp_sim, libaiotp_oracle            ${libdir}/
#   libaiotp_tls (AIOTP_TLS; include/aiotp/tls.h too)  ${libdir}/
#   aiotp-trace-check (AIOTP_TOOLS)                    ${bindir}/
#   aiotpConfig.cmake, aiotpConfigVersion.cmake,
#   aiotpTargets*.cmake                                ${libdir}/cmake/aiotp/
#   aiotp.pc, aiotp-sim.pc, aiotp-oracle.pc(, aiotp-tls.pc) ${libdir}/pkgconfig/
#   LICENSE, README.md, CHANGELOG.md, docs/            ${docdir}/
# find_package(aiotp CONFIG) gives aiotp::aiotp, aiotp::sim, aiotp::oracle and, when they
# were built, aiotp::tls (it finds OpenSSL 3 itself) and the executable aiotp::trace-check.
include(CMakePackageConfigHelpers)

set(AIOTP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/aiotp)
set(AIOTP_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(AIOTP_INSTALL_TARGETS aiotp aiotp_sim aiotp_oracle)
set(AIOTP_PC_FILES aiotp aiotp-sim aiotp-oracle)
if(TARGET aiotp_tls)
  list(APPEND AIOTP_INSTALL_TARGETS aiotp_tls)
  list(APPEND AIOTP_PC_FILES aiotp-tls)
  set(AIOTP_WITH_TLS ON)
else()
  set(AIOTP_WITH_TLS OFF)
endif()
install(TARGETS ${AIOTP_INSTALL_TARGETS} EXPORT aiotpTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
if(TARGET aiotp-trace-check)
  # found next to the libraries wherever the prefix is moved
  file(RELATIVE_PATH _aiotp_bin_to_lib /x/${CMAKE_INSTALL_BINDIR} /x/${CMAKE_INSTALL_LIBDIR})
  set_target_properties(aiotp-trace-check PROPERTIES
    EXPORT_NAME trace-check INSTALL_RPATH "$ORIGIN/${_aiotp_bin_to_lib}")
  install(TARGETS aiotp-trace-check EXPORT aiotpTargets
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()

if(AIOTP_WITH_TLS)
  install(DIRECTORY include/aiotp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          COMPONENT development FILES_MATCHING PATTERN "*.h")
else()
  install(DIRECTORY include/aiotp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          COMPONENT development FILES_MATCHING PATTERN "*.h" PATTERN "tls.h" EXCLUDE)
endif()
install(FILES ${AIOTP_GENERATED_INCLUDE_DIR}/aiotp/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/aiotp COMPONENT development)

install(EXPORT aiotpTargets NAMESPACE aiotp:: DESTINATION ${AIOTP_CMAKE_DIR}
        COMPONENT development)
configure_package_config_file(cmake/aiotpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/aiotpConfig.cmake INSTALL_DESTINATION ${AIOTP_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/aiotpConfigVersion.cmake
  COMPATIBILITY ${AIOTP_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/cmake/aiotpConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/aiotpConfigVersion.cmake
        DESTINATION ${AIOTP_CMAKE_DIR} COMPONENT development)

# pkg-config files, relocatable: the prefix is found from the .pc file's own directory.
file(RELATIVE_PATH AIOTP_PC_TO_PREFIX /x/${AIOTP_PKGCONFIG_DIR} /x)
# what a static link needs for the worker threads: empty where the C library has them
set(AIOTP_PC_THREADS "${CMAKE_THREAD_LIBS_INIT}")
string(REGEX REPLACE "/$" "" AIOTP_PC_TO_PREFIX "${AIOTP_PC_TO_PREFIX}")
foreach(pc ${AIOTP_PC_FILES})
  configure_file(cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/cmake/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/cmake/${pc}.pc DESTINATION ${AIOTP_PKGCONFIG_DIR}
          COMPONENT development)
endforeach()

install(FILES LICENSE README.md CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT development)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/guide COMPONENT development
        FILES_MATCHING PATTERN "*.md")
