#include "dist/mpi_world.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace sarathi::dist {

int32_t launcher_world_size() {
  for (const char* name :
       {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS"}) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != v && *end == '\0' && n > 0 && n < (1L << 20)) return static_cast<int32_t>(n);
  }
  return 0;
}

void wait_polled(MPI_Request& request) {
  auto pause = std::chrono::microseconds(2);
  for (;;) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

core::Result<std::unique_ptr<MpiWorld>> MpiWorld::init() {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    return core::make_error(core::ErrorCode::kInternal, "MPI_Init_thread failed");
  std::unique_ptr<MpiWorld> w(new MpiWorld());
  if (provided < MPI_THREAD_SERIALIZED)
    return core::make_error(core::ErrorCode::kUnsupported,
                            "the MPI library offers thread level {}, pipeline parallelism needs "
                            "MPI_THREAD_SERIALIZED ({})",
                            provided, MPI_THREAD_SERIALIZED);
  MPI_Comm_dup(MPI_COMM_WORLD, &w->comm_);
  int rank = 0, size = 1, local = 1;
  MPI_Comm_rank(w->comm_, &rank);
  MPI_Comm_size(w->comm_, &size);
  MPI_Comm node;
  MPI_Comm_split_type(w->comm_, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  w->rank_ = rank;
  w->size_ = size;
  w->local_size_ = local;
  return w;
}

MpiWorld::~MpiWorld() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  MPI_Finalize();
}

void MpiWorld::send(int dest, int tag, std::span<const std::byte> bytes) {
  MPI_Request r;
  MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, comm_, &r);
  wait_polled(r);
}

Buffer MpiWorld::receive(int source, int tag) {
  auto pause = std::chrono::microseconds(2);
  MPI_Message msg;
  MPI_Status status;
  for (;;) {
    int found = 0;
    MPI_Improbe(source, tag, comm_, &found, &msg, &status);
    if (found) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  Buffer out(static_cast<size_t>(count));
  MPI_Request r;
  MPI_Imrecv(out.data(), count, MPI_BYTE, &msg, &r);
  wait_polled(r);
  return out;
}

void MpiWorld::abort(const std::string& message, int code) const {
  std::fprintf(stderr, "sarathi: rank %d: %s\n", rank_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(comm_ != MPI_COMM_NULL ? comm_ : MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return
}

}  // namespace sarathi::dist
