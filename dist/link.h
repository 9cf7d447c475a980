// dist/link.h: a pipeline stage's data plane during a session: micro-batch messages from the
// previous rank, messages to the next. A transport thread owns every MPI call while the link is
// open: it posts each outgoing message (MPI_Isend) as soon as it is handed over, receives each
// incoming one into a recycled buffer as soon as it arrives (MPI_Improbe + MPI_Imrecv), and keeps
// testing both, so transfers progress while the stage computes (whatever the MPI library's
// shared-memory protocol needs) and a stage hands a result on and goes on with the next
// micro-batch at once. The thread sleeps between tests when nothing moves; it never spins a core.
// It tests often (pauses up to 128 us) only while the stage waits in receive() or the link
// closes, and rarely (up to 2 ms) while the stage computes: its wake-ups preempt the stage's
// compute thread on the same core. send() and a receive() that finds nothing wake it at once.
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "dist/wire.h"

namespace sarathi::dist {

class Link {
 public:
  /// Opens the link: messages (tag kTagData) come from rank `from` and go to rank `to`. Until
  /// close(), no other thread of this process may make MPI calls.
  Link(MPI_Comm comm, int from, int to);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// The next message from `from`, in order (waits for it).
  Buffer receive();
  /// Hands a message to the transport thread for `to`; returns at once.
  void send(Buffer message);
  /// A buffer to encode the next message into (recycled: no allocation once warm).
  Buffer take_buffer();
  /// Gives a buffer back for reuse.
  void recycle(Buffer buffer);
  /// Waits until every message handed over was delivered, then stops the transport thread.
  /// The caller makes sure no message is still to come in.
  void close();

 private:
  void transport();
  bool progress();  // one round of the transport thread; whether anything moved

  MPI_Comm comm_;
  int from_, to_;
  std::mutex mu_;  // guards everything below
  std::condition_variable arrived_;
  std::deque<Buffer> inbox_;   // received, not yet taken
  std::deque<Buffer> outbox_;  // handed over, not yet posted
  std::vector<Buffer> free_;   // recycled buffers
  bool closing_ = false;
  int waiting_ = 0;     // threads blocked in receive()
  bool kicked_ = false;  // send() or receive() asked the transport thread to test now
  std::condition_variable wake_;
  // Transport thread only.
  struct Sending {
    Buffer bytes;
    MPI_Request request;
  };
  std::vector<Sending> sending_;
  Buffer receiving_;
  MPI_Request recv_request_ = MPI_REQUEST_NULL;
  std::thread thread_;
};

}  // namespace sarathi::dist
