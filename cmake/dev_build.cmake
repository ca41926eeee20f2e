# The first-run tree of scripts/dev (-DPAT_DEV_BUILD=ON, preset `dev`):
# compiled as fast as possible from nothing, because a new developer waits
# for it once. Not for tests, benchmarks or releases (they use the other
# presets; with PAT_DEV_BUILD=OFF nothing here is used).
#
#   CMAKE_BUILD_TYPE=Dev   -O0, no debug information, NDEBUG (the asserts and
#                          behaviour of RelWithDebInfo, none of its compile time)
#   unity build            our libraries' .cc files compiled in batches of
#                          PAT_DEV_UNITY_BATCH, so Boost.Beast/Asio, gRPC,
#                          protobuf and Abseil headers are parsed once per
#                          batch instead of once per file. Files that clash
#                          with another file of their library in one
#                          translation unit (same name in an anonymous
#                          namespace) are listed in PAT_DEV_UNITY_SKIP and
#                          compiled on their own.
#
# Measured numbers: docs/first-run.md.

option(PAT_DEV_UNITY "PAT_DEV_BUILD: unity build of our libraries" ON)
set(PAT_DEV_UNITY_BATCH 8 CACHE STRING
    "PAT_DEV_BUILD: .cc files per unity translation unit (0: one per library)")

# Flags of the Dev configuration. project() has made an empty cache entry for
# the build type's flags already; it is filled in once, so
# -DCMAKE_CXX_FLAGS_DEV=... (e.g. -O1) can try others without editing this
# file.
if("${CMAKE_CXX_FLAGS_DEV}" STREQUAL "")
  set(CMAKE_CXX_FLAGS_DEV "-O0 -g0 -DNDEBUG" CACHE STRING
      "C++ flags of CMAKE_BUILD_TYPE=Dev (PAT_DEV_BUILD)" FORCE)
endif()

# Files that cannot share a translation unit with the rest of their library
# (paths relative to the source root), and why.
set(PAT_DEV_UNITY_SKIP
  # kMaxQuotedBytes in catalog.cc too
  common/policy/policy.cc
  # FlagError and ReadFile in authority_config.cc too
  server/authority_server.cc
  # kMaxIdLength (token_manager.cc) and a Clock alias that hides pat::Clock
  server/rpc_observer.cc
  # AV() in five files, BV() in three, IsParseError() in two
  sidecar/header_rewrite.cc
  sidecar/proxy_session.cc
  sidecar/request_head.cc
  sidecar/upstream_exchange.cc
  CACHE STRING "PAT_DEV_BUILD: sources compiled outside the unity batches")

# pat_dev_build_targets(TARGET...): called from the top-level CMakeLists.txt
# once every directory is added.
function(pat_dev_build_targets)
  if(NOT PAT_DEV_UNITY)
    return()
  endif()
  foreach(target ${ARGN})
    if(NOT TARGET ${target})
      continue()
    endif()
    set_target_properties(${target} PROPERTIES
      UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${PAT_DEV_UNITY_BATCH})
    get_target_property(dir ${target} SOURCE_DIR)
    foreach(rel ${PAT_DEV_UNITY_SKIP})
      set(file ${PROJECT_SOURCE_DIR}/${rel})
      get_filename_component(file_dir ${file} DIRECTORY)
      if(file_dir STREQUAL dir)
        set_source_files_properties(${file} TARGET_DIRECTORY ${target}
          PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
      endif()
    endforeach()
  endforeach()
endfunction()
