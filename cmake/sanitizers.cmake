# SARATHI_SANITIZE=address|thread: instrument every target (used by the asan/tsan presets).
set(SARATHI_SANITIZE "" CACHE STRING "Sanitizer to build with: address (with undefined) or thread")
if(SARATHI_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(SARATHI_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# SARATHI_O0_LEAVES: the executables no library depends on (the CLI, the tests) compile at -O0.
# On in the sanitizer presets, where they are built once to be run once: the libraries they test
# keep the preset's -O1, but the CLI's and tests' own code, mostly inline third-party templates
# (CLI11, nlohmann/json, GoogleTest) instantiated again in every source, needs no optimizing.
option(SARATHI_O0_LEAVES "Compile the CLI and test executables at -O0 (sanitizer builds)" OFF)
function(sarathi_leaf target)
  if(SARATHI_O0_LEAVES)
    target_compile_options(${target} PRIVATE -O0)
  endif()
endfunction()
