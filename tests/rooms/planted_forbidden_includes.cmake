# Copies engine/, kernels/, app/ and ui/ to WORK, checks that the copy passes engine/check_rooms.cmake, then plants
# one forbidden include per kind of wrong door (a room reaching sideways, the kernels reaching into the engine,
# the CLI reaching the kernels, a room reaching up, the window reaching past engine/api) and checks that the check fails and names each
# file:line and door.
#   cmake -DDOCKET_ROOT=<source dir> -DWORK=<scratch dir> -P planted_forbidden_includes.cmake
cmake_minimum_required(VERSION 3.25)
set(check "${WORK}/engine/check_rooms.cmake")
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
foreach(top IN ITEMS engine kernels app ui)
  file(COPY "${DOCKET_ROOT}/${top}" DESTINATION "${WORK}")
endforeach()

function(run_check rc_out text_out)
  execute_process(COMMAND ${CMAKE_COMMAND} -DDOCKET_ROOT=${WORK} -P ${check}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${rc_out} ${rc} PARENT_SCOPE)
  set(${text_out} "${out}${err}" PARENT_SCOPE)
endfunction()

run_check(rc text)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the unplanted copy already fails the check:\n${text}")
endif()

# file (relative to WORK), include to append, the door the message must name.
set(plants
  "engine/store/store.cpp|runtime/model.h|store may not include runtime"
  "kernels/rope.cu|model/gguf.h|kernels may not include model"
  "kernels/common.cuh|util/log.h|kernels may not include util"
  "app/dev/cmd_generate.cpp|gemv_q.cuh|dev may not include kernels"
  "app/cli/cmd_verify.cpp|store/store.h|cli may not include store"
  "engine/model/gguf.cpp|store/store.h|model may not include store"
  "ui/engine_bridge.cpp|query/answerer.h|ui may not include query"
  "ui/engine_bridge.h|util/log.h|ui may not include util"
  "app/gui/main.cpp|store/store.h|gui may not include store")
set(expected)
foreach(plant IN LISTS plants)
  string(REPLACE "|" ";" parts "${plant}")
  list(GET parts 0 file)
  list(GET parts 1 inc)
  list(GET parts 2 door)
  # The planted line is the file's last: its number is one more than the lines it has.
  file(READ "${WORK}/${file}" content)
  string(REGEX MATCHALL "\n" newlines "${content}")
  list(LENGTH newlines n)
  math(EXPR line "${n} + 1")
  file(APPEND "${WORK}/${file}" "#include \"${inc}\"\n")
  list(APPEND expected "${file}:${line}: ${door} (\"${inc}\")")
endforeach()

run_check(rc text)
if(rc EQUAL 0)
  message(FATAL_ERROR "the check passed a tree with forbidden includes:\n${text}")
endif()
foreach(e IN LISTS expected)
  string(FIND "${text}" "${e}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "the check's output does not name \"${e}\":\n${text}")
  endif()
endforeach()
list(LENGTH expected n)
message(STATUS "the check failed on all ${n} planted includes, naming file, line and door")
