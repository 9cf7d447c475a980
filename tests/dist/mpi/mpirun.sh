#!/usr/bin/env bash
# Runs a command under mpirun with N processes: mpirun.sh MPIRUN N COMMAND... With Open MPI it
# adds --oversubscribe (CI machines have 2 cores; a test may start 3 ranks) and, as root,
# --allow-run-as-root (Open MPI refuses root otherwise). Other MPI launchers get -np only.
mpirun=$1
np=$2
shift 2
flags=()
if "$mpirun" --version 2>&1 | grep -q "Open MPI"; then
  flags+=(--oversubscribe)
  if [[ $(id -u) -eq 0 ]]; then flags+=(--allow-run-as-root); fi
fi
exec "$mpirun" "${flags[@]}" -np "$np" "$@"
