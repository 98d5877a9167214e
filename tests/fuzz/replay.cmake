# Included from tests/CMakeLists.txt: every fuzz target is also built with a
# plain main() that replays kept inputs and past crashes (tests/fuzz/regress)
# and seeds extracted from ../shared, under the test build's sanitizers.
foreach(t sip packet sipframe sdp pcap media hep query vq tlsdec spool tls audio pcapng srtp)
  add_executable(replay_${t} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${t}.c
                             ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay_main.c)
  target_link_libraries(replay_${t} PRIVATE ${TS_ALL_LIBS} Threads::Threads)
  if(t STREQUAL "srtp") # libsrtp2 as the reference sender
    target_link_libraries(replay_${t} PRIVATE PkgConfig::SRTP2)
  endif()
  add_test(NAME fuzz.replay_${t}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds.py
      --shared ${CMAKE_SOURCE_DIR}/../shared --out ${CMAKE_CURRENT_BINARY_DIR}/seeds
      --target ${t} --replay $<TARGET_FILE:replay_${t}>
      ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regress/${t})
  set_tests_properties(fuzz.replay_${t} PROPERTIES TIMEOUT 900)
endforeach()
