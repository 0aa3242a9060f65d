# The workloads shared by kiln-bench (tools/) and the Google Benchmark programs (bench/), included
# by both CMakeLists.txt files: kiln_workloads (kiln's public API only), and where CMake finds
# Torch (Debian's libtorch-dev) the libtorch peers, compiled into each program that uses them.
if(NOT TARGET kiln_workloads)
  add_library(kiln_workloads STATIC ${CMAKE_CURRENT_LIST_DIR}/workloads.cpp)
  target_include_directories(kiln_workloads PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(kiln_workloads PRIVATE ${KILN_WARNINGS})
  target_link_libraries(kiln_workloads PUBLIC kiln::kiln)
endif()

find_package(Torch CONFIG QUIET PATHS /usr/lib/x86_64-linux-gnu/cmake/Torch)
set(KILN_LIBTORCH_WORKLOADS ${CMAKE_CURRENT_LIST_DIR}/libtorch_workloads.cpp)
# kiln_use_libtorch(TARGET SOURCES...): TARGET gets the libtorch peers, SOURCES (which include
# libtorch's headers, not warning-clean under the project's warnings) and libtorch, and
# KILN_BENCH_LIBTORCH is defined for it. Nothing when Torch was not found, nor in a sanitizer
# build (libtorch itself is not built with the sanitizers).
function(kiln_use_libtorch target)
  if(NOT Torch_FOUND OR KILN_SANITIZE)
    return()
  endif()
  target_sources(${target} PRIVATE ${KILN_LIBTORCH_WORKLOADS} ${ARGN})
  target_link_libraries(${target} PRIVATE ${TORCH_LIBRARIES})
  target_compile_definitions(${target} PRIVATE KILN_BENCH_LIBTORCH)
  set_source_files_properties(${KILN_LIBTORCH_WORKLOADS} ${ARGN} PROPERTIES COMPILE_OPTIONS "-w")
endfunction()
