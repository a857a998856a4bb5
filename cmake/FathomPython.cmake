# FathomPython.cmake - the Python extension fathom._fathom (python/src/_fathom.c): compiled
# against include/fathom.h only and linked with libfathom's objects, so the module is
# self-contained (pip install ./python drives this file through python/setup.py).
# FATHOM_BUILD_PYTHON: AUTO (when Python 3 headers and NumPy are found; not in sanitizer or
# fuzz builds, whose runtimes Python cannot load), ON or OFF.
set(FATHOM_BUILD_PYTHON "AUTO" CACHE STRING "Build the Python extension: ON, OFF or AUTO")
set(FATHOM_PYTHON_DIR ${CMAKE_CURRENT_BINARY_DIR}/python CACHE PATH "Where the importable fathom package is assembled")
if(FATHOM_BUILD_PYTHON STREQUAL "OFF" OR
   (FATHOM_BUILD_PYTHON STREQUAL "AUTO" AND (FATHOM_SANITIZE OR FATHOM_FUZZ)))
  return()
endif()
# Debian's interpreter has the numpy the tests use; another one can be given explicitly.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3)
endif()
if(FATHOM_BUILD_PYTHON STREQUAL "ON")
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
else()
  find_package(Python3 COMPONENTS Interpreter Development.Module NumPy)
  if(NOT Python3_Development.Module_FOUND OR NOT Python3_NumPy_FOUND)
    message(STATUS "fathom: Python extension OFF (needs python3-dev and python3-numpy)")
    return()
  endif()
endif()
message(STATUS "fathom: Python extension for ${Python3_EXECUTABLE}")

Python3_add_library(fathom_python MODULE WITH_SOABI python/src/_fathom.c $<TARGET_OBJECTS:fathom_lib>)
set_target_properties(fathom_python PROPERTIES OUTPUT_NAME _fathom C_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${FATHOM_PYTHON_DIR}/fathom)
target_include_directories(fathom_python PRIVATE include ${CMAKE_CURRENT_BINARY_DIR}/include)
# Debian links its NumPy's headers into the Python include folder: the NumPy being built
# against (pip's, maybe 2.x) must come first
target_include_directories(fathom_python BEFORE PRIVATE ${Python3_NumPy_INCLUDE_DIRS})
target_link_libraries(fathom_python PRIVATE Python3::NumPy ${FATHOM_LINK_DEPS})
# the module exports its init function only (not libfathom's API, nor GCC's target_clones ifuncs)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/fathom_python.map "{\n  global: PyInit__fathom;\n  local: *;\n};\n")
target_link_options(fathom_python PRIVATE -Wl,--version-script=${CMAKE_CURRENT_BINARY_DIR}/fathom_python.map)
# the pure-Python part next to the module, so FATHOM_PYTHON_DIR is importable as is
file(GLOB FATHOM_PY_FILES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/python/fathom/*.py)
foreach(f ${FATHOM_PY_FILES})
  get_filename_component(n ${f} NAME)
  add_custom_command(TARGET fathom_python POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${f} ${FATHOM_PYTHON_DIR}/fathom/${n})
endforeach()
# the CUDA module next to the extension: the loader looks in the folder of the file holding
# libfathom's code (here the extension) before the install libdir
if(TARGET fathom_cuda)
  add_dependencies(fathom_python fathom_cuda)
  add_custom_command(TARGET fathom_python POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E copy_if_different $<TARGET_FILE:fathom_cuda> ${FATHOM_PYTHON_DIR}/fathom/)
endif()
