# Project-wide warning flags, applied per target with sarathi_warnings(<target>).
function(sarathi_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wno-missing-field-initializers)  # designated initializers may omit defaulted fields
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports bogus -Wrestrict on std::string inlined at -O3 (GCC bug 105651).
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(SARATHI_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
