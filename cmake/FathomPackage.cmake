# FathomPackage.cmake - the installable libfathom: shared (versioned SONAME) or static per
# BUILD_SHARED_LIBS, built from fathom_lib's objects; fathom_config.h; install rules for the
# library, header, CLI, docs and an optional libfathom-cuda module; fathom.pc; the CMake package
# (find_package(fathom) -> fathom::fathom); CPack (cpack -G DEB).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# ---- fathom_config.h: version and build features for users of the installed header ----
configure_file(${CMAKE_CURRENT_LIST_DIR}/fathom_config.h.in
  ${CMAKE_CURRENT_BINARY_DIR}/include/fathom_config.h @ONLY)

# ---- libfathom ----
# Target name libfathom (the CLI owns "fathom"); file and exported names are "fathom".
add_library(libfathom $<TARGET_OBJECTS:fathom_lib>)
add_library(fathom::fathom ALIAS libfathom)
set_target_properties(libfathom PROPERTIES
  OUTPUT_NAME fathom EXPORT_NAME fathom
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  C_VISIBILITY_PRESET hidden)
target_include_directories(libfathom PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
  $<BUILD_INTERFACE:${CMAKE_CURRENT_BINARY_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(libfathom PRIVATE ${FATHOM_LINK_DEPS})
# Exports: hidden visibility does the work, but GCC gives target_clones ifuncs (cpu_math.c)
# default visibility whatever they are declared with, so a version script lists exactly the
# functions fathom.h declares. Regenerated when the header changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/include/fathom.h)
file(READ ${CMAKE_CURRENT_SOURCE_DIR}/include/fathom.h FATHOM_HEADER)
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" FATHOM_HEADER "${FATHOM_HEADER}")
string(REGEX MATCHALL "fathom_[A-Za-z0-9_]+[ \t\r\n]*\\(" FATHOM_API_NAMES "${FATHOM_HEADER}")
list(TRANSFORM FATHOM_API_NAMES REPLACE "[ \t\r\n]*\\($" "")
list(REMOVE_DUPLICATES FATHOM_API_NAMES)
list(JOIN FATHOM_API_NAMES ";\n    " FATHOM_API_LIST)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/fathom.map
  CONTENT "/* generated from include/fathom.h */\n{\n  global:\n    @FATHOM_API_LIST@;\n  local: *;\n};\n" @ONLY)
if(BUILD_SHARED_LIBS)
  target_link_options(libfathom PRIVATE -Wl,--version-script=${CMAKE_CURRENT_BINARY_DIR}/fathom.map)
  set_target_properties(libfathom PROPERTIES LINK_DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/fathom.map)
endif()
if(BUILD_SHARED_LIBS AND NOT FATHOM_SANITIZE AND NOT FATHOM_FUZZ)
  # every dependency named at link time: a missing one fails here, not in a user's program
  target_link_options(libfathom PRIVATE -Wl,--no-undefined)
endif()

# ---- install ----
install(TARGETS libfathom EXPORT fathomTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/fathom.h ${CMAKE_CURRENT_BINARY_DIR}/include/fathom_config.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Backend modules loaded with dlopen: libfathom-cuda.so (target fathom_cuda, install component
# "cuda") is installed next to the library by the CUDA section of CMakeLists.txt, where
# src/backend/loader.c looks; a new module gets an install() line there.
file(GLOB FATHOM_DOCS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/docs/*.md)
install(FILES README.md ${FATHOM_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- pkg-config ----
# Relocatable: prefix is found from the .pc file's own place (cmake --install --prefix works).
file(RELATIVE_PATH FATHOM_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" FATHOM_PC_TO_PREFIX "${FATHOM_PC_TO_PREFIX}")
# Requires.private / Libs.private matter only for static linking (pkg-config --static).
set(FATHOM_PC_REQUIRES_PRIVATE "${FATHOM_PKG_MODULES}")
list(JOIN FATHOM_PC_REQUIRES_PRIVATE " " FATHOM_PC_REQUIRES_PRIVATE)
set(FATHOM_PC_LIBS_PRIVATE "${OPENBLAS_LIB} -fopenmp -lpthread -lm")
if(CMAKE_DL_LIBS)
  string(APPEND FATHOM_PC_LIBS_PRIVATE " -l${CMAKE_DL_LIBS}")
endif()
# A static libfathom is linked against the shared system libraries: plain `pkg-config --libs`
# must name them (--static would ask for static FFmpeg and its dozens of dependencies).
if(BUILD_SHARED_LIBS)
  set(FATHOM_PC_REQUIRES Requires.private)
  set(FATHOM_PC_LIBS_STATIC "")
else()
  set(FATHOM_PC_REQUIRES Requires)
  set(FATHOM_PC_LIBS_STATIC " ${FATHOM_PC_LIBS_PRIVATE}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/fathom.pc.in ${CMAKE_CURRENT_BINARY_DIR}/fathom.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fathom.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- CMake package: find_package(fathom) -> fathom::fathom ----
set(FATHOM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fathom)
install(EXPORT fathomTargets NAMESPACE fathom:: DESTINATION ${FATHOM_CMAKE_DIR})
set(FATHOM_CONFIG_SHARED ${BUILD_SHARED_LIBS})
set(FATHOM_CONFIG_CUDA ${FATHOM_HAVE_CUDA})
set(FATHOM_CONFIG_PKG_MODULES "${FATHOM_PKG_MODULES}")
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fathomConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/fathomConfig.cmake INSTALL_DESTINATION ${FATHOM_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/fathomConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fathomConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/fathomConfigVersion.cmake DESTINATION ${FATHOM_CMAKE_DIR})

# ---- CPack: cpack -G DEB (or TGZ) from the build directory ----
set(CPACK_PACKAGE_NAME fathom)
set(CPACK_PACKAGE_VENDOR "fathom")
set(CPACK_PACKAGE_CONTACT "fathom maintainers <fathom@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Depth Anything V2 depth estimation in C: library, header and CLI")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# One package per install component: fathom (library, header, pkg-config, CMake package, CLI,
# docs) and, in CUDA builds, fathom-cuda (libfathom-cuda.so).
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FATHOM_PACKAGE_NAME fathom)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)   # Depends: from the ELF files' NEEDED (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_CUDA_PACKAGE_NAME fathom-cuda)
set(CPACK_DEBIAN_CUDA_PACKAGE_DEPENDS "fathom (= ${PROJECT_VERSION})")
# the CUDA runtime often comes from NVIDIA's installer, which dpkg-shlibdeps cannot see: the
# module's libcudart / libcublasLt are the user's to provide (docs/cuda.md)
set(CPACK_DEBIAN_CUDA_PACKAGE_SHLIBDEPS OFF)
set(CPACK_COMPONENT_CUDA_DESCRIPTION "fathom's CUDA backend module (needs the CUDA runtime and cuBLASLt)")
set(CPACK_GENERATOR DEB)
include(CPack)
