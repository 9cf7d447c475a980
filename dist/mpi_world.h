// dist/mpi_world.h: this process's place in an MPI job (Debian's Open MPI; any MPI-3 library):
// joining and leaving it, rank and size, and the blocking point-to-point messages of the
// control plane (rank 0's commands to the other ranks and their replies). Every wait polls
// with short sleeps instead of MPI's busy wait, so a rank waiting for its turn leaves the core
// to the ranks computing. Only dist/ includes <mpi.h>.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "dist/wire.h"

namespace sarathi::dist {

/// The number of processes an MPI launcher (mpirun, mpiexec, srun) started this one among, read
/// from its environment (Open MPI, MPICH/Hydra, PMIx, Slurm); 0 when no launcher started it.
/// Needs no MPI call, so it can decide whether to join MPI at all.
int32_t launcher_world_size();

/// Message tags: the control plane, and the data plane's micro-batches (dist/link.h).
inline constexpr int kTagControl = 1;
inline constexpr int kTagReply = 2;
inline constexpr int kTagData = 3;

/// Waits for a request to complete, sleeping between tests (from a few microseconds up to a
/// millisecond as the wait grows).
void wait_polled(MPI_Request& request);

class MpiWorld {
 public:
  /// Joins the job (MPI_Init_thread with MPI_THREAD_SERIALIZED: one thread at a time makes MPI
  /// calls). Once per process; an error when the library offers less.
  static core::Result<std::unique_ptr<MpiWorld>> init();
  ~MpiWorld();  // MPI_Finalize
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int32_t rank() const { return rank_; }
  int32_t size() const { return size_; }
  /// Ranks on this machine (this one included).
  int32_t local_size() const { return local_size_; }
  /// The job's communicator (a duplicate of MPI_COMM_WORLD).
  MPI_Comm comm() const { return comm_; }

  /// Sends bytes to `dest` and waits until they are delivered or buffered.
  void send(int dest, int tag, std::span<const std::byte> bytes);
  /// The next message from `source` with `tag` (waits for it).
  Buffer receive(int source, int tag);

  /// Prints "sarathi: rank R: message" on stderr and ends every rank of the job (MPI_Abort).
  [[noreturn]] void abort(const std::string& message, int code = 1) const;

 private:
  MpiWorld() = default;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int32_t rank_ = 0;
  int32_t size_ = 1;
  int32_t local_size_ = 1;
};

}  // namespace sarathi::dist
