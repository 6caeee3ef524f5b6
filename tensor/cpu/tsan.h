// SN_TSAN: defined when compiling under ThreadSanitizer (gcc's __SANITIZE_THREAD__ or clang's
// feature), where parallel_for runs its chunks on plain std::threads (tensor/cpu/parallel.cpp) and
// per-thread scratch is thread_local instead of tbb::enumerable_thread_specific: Debian's libtbb is
// not built with TSan, so TSan sees neither the synchronisation of TBB's scheduler nor that of its
// thread-specific storage, whose slots a new thread inherits from a finished one with the same id.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define SN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SN_TSAN 1
#endif
#endif
