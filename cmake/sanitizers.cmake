# SARATHI_SANITIZE=address|thread: instrument every target (used by the asan/tsan presets).
set(SARATHI_SANITIZE "" CACHE STRING "Sanitizer to build with: address (with undefined) or thread")
if(SARATHI_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(SARATHI_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
