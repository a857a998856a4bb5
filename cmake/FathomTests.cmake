# FathomTests.cmake - tests of the packaging: the installed library through pkg-config and
# find_package, its exported symbols, the .deb, and the Python package (pytest).
foreach(t install/test_install install/test_exports install/test_deb)
  if(TEST ${t})
    # they link against the installed library: not meaningful under sanitizers; they share the
    # build tree's install manifest and CPack staging, so they run one at a time
    set_property(TEST ${t} APPEND PROPERTY LABELS nosan)
    set_property(TEST ${t} PROPERTY RESOURCE_LOCK fathom_install)
  endif()
endforeach()

# The Python package built in-tree (FathomPython.cmake) under pytest, with Debian's interpreter.
if(TARGET fathom_python)
  add_test(NAME python/pytest
    COMMAND ${Python3_EXECUTABLE} -m pytest -p no:cacheprovider -q ${CMAKE_SOURCE_DIR}/python/tests
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(python/pytest PROPERTIES LABELS "python;nosan" TIMEOUT 900
    ENVIRONMENT "${FATHOM_TEST_ENV};PYTHONPATH=${FATHOM_PYTHON_DIR}")
endif()

# fathom serve over RTMP, SRT and HTTP (~80 s of real-time streams): the code it adds over the
# UDP tests is libavformat's, so the sanitizer builds would add minutes and no coverage
if(TEST serve/test_serve_protocols)
  set_property(TEST serve/test_serve_protocols APPEND PROPERTY LABELS nosan)
endif()

# 30 bursts of 50 WebSocket clients against the real binary: a regression test for a race
# inside libmicrohttpd (not fathom's code, so ASan adds no coverage, only 20-40 s of run time)
if(TEST serve/test_serve_burst)
  set_property(TEST serve/test_serve_burst APPEND PROPERTY LABELS nosan)
endif()
