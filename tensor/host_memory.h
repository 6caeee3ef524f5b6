// Raw host memory for tensors (under cpu_allocator()'s recycling, tensor/storage.h) and for the
// kernels' scratch (tensor/cpu/workspace.h): 64-byte aligned, and laid out so that fresh memory
// faults in 2 MiB at a time where the kernel grants transparent huge pages (THP "madvise" or
// "always"). On the shared VMs this project runs on, a page fault costs ~10 us: a cold `stylize`
// of a 64 x 64 photo took 13.3k faults, most of them 4 KiB pages of fresh activations and
// weights of 256 KiB to 4 MiB, and a third of its CPU time went to them.
//
//   * blocks of 4 MiB and more are 2 MiB aligned ranges of mappings marked for THP: a freed
//     one's pages are kept for 2 s and reused, whole or in part, by any later block that fits (the
//     smallest kept range that does; kept ranges merge with their neighbours); a block that none
//     fits is a fresh mapping into which the kept pages are moved (mremap: no fault, no zeroing),
//     so the kept pages never raise a job's peak beyond its own high-water mark, and ranges kept
//     longer are unmapped at the next allocation or free (a tiled 1024 px stylize mapped 2.7 GB of
//     fresh huge pages for a 720 MB peak, and zeroing them was a quarter of its CPU time; 1.2 GB
//     with the kept pages reused only where one range fitted; 0.68 GB, about its peak, since they
//     are moved);
//   * blocks of 64 KiB up to 4 MiB are carved from 8 MiB slabs that are such mappings (first
//     fit; a freed block's range merges with its free neighbours and keeps its pages, as a heap
//     would; a slab whose blocks are all freed is unmapped, but for one kept for the next blocks).
//     From 64 KiB, not only from the 256 KiB cpu_allocator() recycles: with the larger blocks out
//     of glibc's heap, VGG16's 100 KB pooled map landed at the heap's top and faulted in its pages
//     again in every forward pass (pool5 0.25 -> 0.6 ms; with 64 KiB, 26 -> 1.4 faults a pass);
//   * smaller blocks come from operator new (glibc's heap), and so does everything under
//     AddressSanitizer, whose checks only see the heap.
#pragma once
#include <cstddef>

namespace sn {

// host_free needs the size that was allocated.
void* host_allocate(size_t nbytes);
void host_free(void* p, size_t nbytes) noexcept;

struct HostMemoryStats {
  size_t slabs = 0;        // slabs mapped
  size_t slab_blocks = 0;  // blocks carved from them and not yet freed
  size_t kept_bytes = 0;   // freed blocks of 4 MiB and more whose pages are kept for reuse
};
HostMemoryStats host_memory_stats();
// Unmaps the kept pages of freed blocks now (release_cpu_cache() calls it).
void host_memory_release() noexcept;
// False off Linux and under AddressSanitizer, where blocks of 64 KiB to 4 MiB come from the heap.
bool host_memory_has_slabs();

}  // namespace sn
