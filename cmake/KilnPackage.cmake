# The installable kiln: one shared library, libkiln.so, and a CMake package for it.
#
# The engine is built as one static library per layer (kiln_ir, kiln_codegen, kiln_runtime,
# kiln; see the root CMakeLists.txt) that the tests link directly (they use internals). For installation their objects are folded into one
# shared library, kiln_shared (file name libkiln.so), exported as kiln::kiln:
#   - LLVM (the shared libLLVM-16) and Abseil (shared .so files) are PRIVATE link dependencies of
#     libkiln.so: an application needs neither their headers, nor their CMake packages, nor flags;
#   - only symbols that mention namespace kiln (and C symbols kiln_*) are exported (cmake/kiln.map);
#   - libkiln.so carries a RUNPATH to its own folder and to LLVM's (non-default) library folder.
# Included from the root CMakeLists.txt when KILN_INSTALL is ON.

include(CMakePackageConfigHelpers)

# Every object of the layers' static libraries (whole, so nothing registered statically is lost).
# Linking `kiln` privately as well brings its transitive LLVM and Abseil dependencies, kept in one
# place (the root CMakeLists.txt); the archives themselves add nothing, since their objects are
# already in.
add_library(kiln_shared SHARED
  $<TARGET_OBJECTS:kiln_ir>
  $<TARGET_OBJECTS:kiln_codegen>
  $<TARGET_OBJECTS:kiln_runtime>
  $<TARGET_OBJECTS:kiln>)
add_library(kiln::shared ALIAS kiln_shared)
target_link_libraries(kiln_shared PRIVATE kiln)
target_include_directories(kiln_shared PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# The public headers use C++20 (kiln/nn.h constrains its templates with requires-clauses).
target_compile_features(kiln_shared INTERFACE cxx_std_20)
set(KILN_SYMBOL_MAP ${CMAKE_CURRENT_LIST_DIR}/kiln.map)
target_link_options(kiln_shared PRIVATE "LINKER:--version-script=${KILN_SYMBOL_MAP}")
if(NOT KILN_SANITIZE)
  # Every undefined symbol must come from a declared dependency (the sanitizer runtimes are
  # provided by the executable instead, so this cannot hold there).
  target_link_options(kiln_shared PRIVATE "LINKER:--no-undefined")
endif()
set_target_properties(kiln_shared PROPERTIES
  OUTPUT_NAME kiln
  EXPORT_NAME kiln
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  LINK_DEPENDS ${KILN_SYMBOL_MAP}
  # $ORIGIN: found beside its own folder; link path: LLVM's folder, /usr/lib/llvm-16/lib.
  INSTALL_RPATH "$ORIGIN"
  INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS kiln_shared
  EXPORT kilnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime NAMELINK_COMPONENT Development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/kiln
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT Development
  FILES_MATCHING PATTERN "*.h" PATTERN "*.def")

set(KILN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)
install(EXPORT kilnTargets
  NAMESPACE kiln::
  FILE kilnTargets.cmake
  DESTINATION ${KILN_CMAKE_DIR}
  COMPONENT Development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/kilnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kilnConfig.cmake
  INSTALL_DESTINATION ${KILN_CMAKE_DIR})
# 0.x: a minor version may break the interface.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/kilnConfig.cmake
  ${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
  DESTINATION ${KILN_CMAKE_DIR}
  COMPONENT Development)

# kiln-ir carries the engine statically; at run time it needs only LLVM's shared library (and
# Abseil's, from the default library path).
# kiln-bench likewise (and libtorch's shared libraries where it was built with them).
foreach(tool kiln-ir kiln-bench)
  if(TARGET ${tool})
    set_target_properties(${tool} PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
  endif()
endforeach()
