# Runs `docket --smoke-test --data WORK/data` on a fresh data directory and checks its promise: exit 0, the
# answer and at least one citation printed; then that a missing model is refused with a one-line reason. For
# speed the archive is two of the sample contracts (DOCKET_SAMPLE_ARCHIVE), the trademark license among them.
#   cmake -DDOCKET=<docket binary> -DARCHIVE=<resources/sample-archive> -DWORK=<scratch dir> -P smoke_test.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/archive")
file(COPY "${ARCHIVE}/03-trademark-license-palmer-square.txt" "${ARCHIVE}/04-endorsement-lifeway-foods.txt"
  DESTINATION "${WORK}/archive")
execute_process(COMMAND ${CMAKE_COMMAND} -E env "DOCKET_SAMPLE_ARCHIVE=${WORK}/archive"
                        "${DOCKET}" --smoke-test --data "${WORK}/data"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 850)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "docket --smoke-test exited ${rc}:\n${out}\n${err}")
endif()
foreach(expect IN ITEMS "**Answer:**" "**Citations:**" "1. " "archive/0")
  string(FIND "${out}" "${expect}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "docket --smoke-test printed no \"${expect}\":\n${out}")
  endif()
endforeach()
execute_process(COMMAND "${DOCKET}" --smoke-test --data "${WORK}/data" --model "${WORK}/no-such-model.gguf"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(rc EQUAL 0 OR NOT err MATCHES "docket --smoke-test: the engine did not open: [^\n]*no-such-model")
  message(FATAL_ERROR "a missing model should fail with one line naming it (exit ${rc}):\n${out}\n${err}")
endif()
message(STATUS "docket --smoke-test: answered with citations; a missing model refused with its name")
