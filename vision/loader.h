// Training batches of photo and artwork crops, prepared ahead of the training step.
//
// Images are decoded once, in parallel, and kept in memory as 8-bit at a working size. Each
// sample applies random rescaling, cropping and horizontal flips. Sample i of step s depends only
// on (seed, stream, s, i), never on what was drawn before, so a resumed run sees exactly the
// batches the uninterrupted run would, the background thread that prepares the next batches while
// the current step runs cannot change the results, and N processes that each take their slice of
// one global batch (first = rank * batch) see together what one process with N times the batch
// sees.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tensor/tensor.h"

namespace sn {

struct LoaderOptions {
  int64_t crop = 128;           // side of the square crops
  double max_zoom_out = 2.0;    // images are first rescaled so their short side is in [crop, crop * this]
  int64_t batch = 4;
  uint64_t seed = 1;
  uint64_t stream = 0;          // distinguishes loaders sharing a seed (content vs style)
  int64_t first = 0;            // this process's first sample of each step's global batch
  int64_t prefetch = 2;         // batches prepared ahead
};

class ImageLoader {
 public:
  // Reads and decodes every file (in parallel). Throws naming a file that cannot be read.
  ImageLoader(const std::vector<std::string>& files, const LoaderOptions& options);
  ~ImageLoader();
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  // Batch [batch, 3, crop, crop] in [0, 1] for `step`. Steps must be asked for in increasing
  // order for prefetching to help; any order gives the same tensors.
  Tensor batch(int64_t step);
  // The same, computed now on the calling thread (what the prefetcher runs).
  Tensor make_batch(int64_t step) const;

  size_t size() const { return images_.size(); }

 private:
  struct Image {
    int64_t h, w;
    std::vector<uint8_t> rgb;  // planar 3 x h x w
  };
  void worker();
  static void decode_into(const std::string& file, Image& image, int64_t keep);

  std::vector<Image> images_;
  LoaderOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int64_t, Tensor>> ready_;
  int64_t next_ = -1;       // next step the worker prepares; -1 = idle until the first request
  int64_t in_flight_ = -1;  // step the worker is preparing now, -1 if none
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sn
