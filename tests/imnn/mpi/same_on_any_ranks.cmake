# `trusty imnn CONFIG` once on one process and once under `mpirun -np NP`: the Fisher
# matrices in results.json (training statistics and the held-out test set) and model.npz
# (the trained weights) must be identical bit for bit. nlohmann::json writes doubles in their
# shortest round-trip form, so equal text is equal bits.
#   cmake -DTRUSTY=... -DMPIEXEC=... -DMPIEXEC_FLAGS="a|b" -DNP_FLAG=-np -DNP=2 -DCONFIG=... -DWORK=... -P this
string(REPLACE "|" ";" flags "${MPIEXEC_FLAGS}")
file(REMOVE_RECURSE "${WORK}")

function(run_trusty dir)
  execute_process(COMMAND ${ARGN} "${TRUSTY}" imnn "${CONFIG}" --out "${WORK}/${dir}" --quiet
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "trusty imnn (${dir}) failed with ${rc}: ${err}")
  endif()
endfunction()

run_trusty(one)
run_trusty(ranks "${MPIEXEC}" ${flags} ${NP_FLAG} ${NP})

file(READ "${WORK}/one/results.json" one)
file(READ "${WORK}/ranks/results.json" ranks)
foreach(key fisher det_fisher test_fisher)
  string(JSON a GET "${one}" ${key})
  string(JSON b GET "${ranks}" ${key})
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "${key} differs:\n  1 process:  ${a}\n  ${NP} ranks: ${b}")
  endif()
  message(STATUS "${key} identical on 1 process and ${NP} ranks: ${a}")
endforeach()
file(SHA256 "${WORK}/one/model.npz" a)
file(SHA256 "${WORK}/ranks/model.npz" b)
if(NOT a STREQUAL b)
  message(FATAL_ERROR "model.npz differs between 1 process and ${NP} ranks")
endif()
message(STATUS "model.npz identical (sha256 ${a})")
file(REMOVE_RECURSE "${WORK}")
