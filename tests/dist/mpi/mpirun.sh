#!/usr/bin/env bash
# Runs a command under mpirun with N processes: mpirun.sh MPIRUN N COMMAND... With Open MPI
# (whose mpirun/mpiexec --version says "Open MPI" or "OpenRTE") it adds --oversubscribe (CI
# machines have 2 cores; a test may start 3 ranks) and, as root, --allow-run-as-root (Open MPI
# refuses root otherwise). Other MPI launchers get -np only.
mpirun=$1
np=$2
shift 2
flags=()
if "$mpirun" --version 2>&1 | grep -qiE "Open MPI|OpenRTE|open-mpi"; then
  flags+=(--oversubscribe)
  if [[ $(id -u) -eq 0 ]]; then flags+=(--allow-run-as-root); fi
fi
exec "$mpirun" "${flags[@]}" -np "$np" "$@"
