# scripts/build_id.cmake - writes OUT, a C header defining STRATA_BUILD_ID as
# VERSION+<commit>, at every build (the strata_build_id target), and only when
# it changes: the id stratad records as the code version in lineage must be
# the commit that was built, not the one the build directory was configured at.
#   cmake -DSRC=<source dir> -DOUT=<header> -DVERSION=<x.y.z> -P build_id.cmake
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY "${SRC}" OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT rev)
  set(rev "unknown")
endif()
set(text "/* Generated at build time by scripts/build_id.cmake. */\n#define STRATA_BUILD_ID \"${VERSION}+${rev}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
