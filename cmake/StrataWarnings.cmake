# Probe each warning flag so the same list works with gcc and clang.
set(STRATA_WARNING_FLAGS
  -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wvla -Wimplicit-fallthrough -Wno-unused-parameter -Wno-missing-field-initializers)
set(STRATA_WARNINGS "")
foreach(flag ${STRATA_WARNING_FLAGS})
  string(MAKE_C_IDENTIFIER "HAVE_C${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    list(APPEND STRATA_WARNINGS ${flag})
  endif()
endforeach()
if(STRATA_WERROR)
  list(APPEND STRATA_WARNINGS -Werror)
endif()

# strata_target_warnings(TARGET): apply the probed warnings to our own code only
# (generated protobuf sources get none).
function(strata_target_warnings target)
  target_compile_options(${target} PRIVATE ${STRATA_WARNINGS})
endfunction()
