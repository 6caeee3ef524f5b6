// The library's thread count, for programs that use or embed it: every parallel kernel runs on
// this many oneTBB threads (default: STYLENET_THREADS, else the hardware's). How the kernels use
// them is tensor/cpu/parallel.h's business, not the caller's.
#pragma once

namespace sn {

int num_threads();
// n >= 1; takes effect for the next kernel. Results are bit-identical run to run for a fixed count.
void set_num_threads(int n);

}  // namespace sn
