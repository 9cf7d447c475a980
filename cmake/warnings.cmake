# Project-wide warning flags, applied per target with sarathi_warnings(<target>).
function(sarathi_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
  if(SARATHI_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
