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
