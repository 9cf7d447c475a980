# Project-wide warning flags, applied per target with sarathi_warnings(<target>).
function(sarathi_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wno-missing-field-initializers)  # designated initializers may omit defaulted fields
  if(SARATHI_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
