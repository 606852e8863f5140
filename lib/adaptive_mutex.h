// AdaptiveMutex: a mutex that spins a while before it sleeps (glibc's
// PTHREAD_MUTEX_ADAPTIVE_NP), for locks held a few dozen instructions and
// taken from several CPUs at once, such as a vmap node's. A std::mutex
// there goes to the kernel (futex wait and wake) whenever two CPUs meet on
// it, which costs far more than the section it guards. A BasicLockable, so
// std::lock_guard and std::unique_lock take it.
#pragma once

#include <pthread.h>

namespace uvm {

class AdaptiveMutex {
 public:
  AdaptiveMutex() = default;
  AdaptiveMutex(const AdaptiveMutex&) = delete;
  AdaptiveMutex& operator=(const AdaptiveMutex&) = delete;
  ~AdaptiveMutex() { pthread_mutex_destroy(&m_); }

  void lock() { pthread_mutex_lock(&m_); }
  bool try_lock() { return pthread_mutex_trylock(&m_) == 0; }
  void unlock() { pthread_mutex_unlock(&m_); }

 private:
  pthread_mutex_t m_ = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
};

}  // namespace uvm
