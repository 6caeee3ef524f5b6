#include "vision/loader.h"

#include <algorithm>
#include <cmath>

#include "tensor/cpu/parallel.h"
#include "tensor/error.h"
#include "tensor/random.h"
#include "vision/image.h"

namespace sn {

ImageLoader::ImageLoader(const std::vector<std::string>& files, const LoaderOptions& options) : opt_(options) {
  SN_CHECK(!files.empty(), "ImageLoader: no image files");
  SN_CHECK(opt_.crop >= 8 && opt_.batch >= 1 && opt_.max_zoom_out >= 1.0 && opt_.first >= 0,
           "ImageLoader: bad options");
  images_.resize(files.size());
  const int64_t keep = static_cast<int64_t>(std::ceil(opt_.crop * opt_.max_zoom_out));
  // Decoding is the slow part of start-up: files in parallel chunks, each writing its own slots.
  cpu::parallel_for_chunks(0, static_cast<int64_t>(files.size()), 1, [&](int64_t, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) decode_into(files[i], images_[i], keep);
  });
  thread_ = std::thread([this] { worker(); });
}

// The file at the working size (short side `keep`), as 8-bit planar RGB.
void ImageLoader::decode_into(const std::string& file, Image& im, int64_t keep) {
  const Tensor t = resize_short_side(load_image(file), keep).contiguous();
  im.h = t.size(2);
  im.w = t.size(3);
  const float* p = t.data<float>();
  im.rgb.resize(3 * im.h * im.w);
  for (size_t j = 0; j < im.rgb.size(); ++j)
    im.rgb[j] = static_cast<uint8_t>(std::lround(std::clamp(p[j], 0.0f, 1.0f) * 255.0f));
}

ImageLoader::~ImageLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Tensor ImageLoader::make_batch(int64_t step) const {
  const int64_t n = opt_.batch, c = opt_.crop;
  Tensor out = Tensor::empty({n, 3, c, c});
  float* o = out.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    // Sample (first + b) of this step's global batch: its own generator, seeded from all four.
    Generator gen(mix_seed({opt_.seed, opt_.stream, static_cast<uint64_t>(step), static_cast<uint64_t>(opt_.first + b)}));
    const Image& im = images_[gen.below(images_.size())];
    // Random zoom: a square window of side `win` (>= crop) is resampled to crop x crop.
    const int64_t short_side = std::min(im.h, im.w);
    const double zoom = 1.0 + gen.uniform() * (static_cast<double>(short_side) / c - 1.0);
    const int64_t win = std::clamp<int64_t>(std::llround(c * zoom), c, short_side);
    const int64_t y0 = gen.below(im.h - win + 1), x0 = gen.below(im.w - win + 1);
    const bool flip = gen.uniform() < 0.5;
    // Box-filtered downsampling from the window: each output pixel averages its source area.
    const double scale = static_cast<double>(win) / c;
    for (int64_t ch = 0; ch < 3; ++ch) {
      const uint8_t* src = im.rgb.data() + ch * im.h * im.w;
      for (int64_t y = 0; y < c; ++y) {
        const int64_t sy0 = y0 + static_cast<int64_t>(y * scale);
        const int64_t sy1 = std::max(sy0 + 1, y0 + static_cast<int64_t>((y + 1) * scale));
        for (int64_t x = 0; x < c; ++x) {
          const int64_t xs = flip ? c - 1 - x : x;
          const int64_t sx0 = x0 + static_cast<int64_t>(xs * scale);
          const int64_t sx1 = std::max(sx0 + 1, x0 + static_cast<int64_t>((xs + 1) * scale));
          int sum = 0;
          for (int64_t yy = sy0; yy < sy1; ++yy)
            for (int64_t xx = sx0; xx < sx1; ++xx) sum += src[yy * im.w + xx];
          o[((b * 3 + ch) * c + y) * c + x] = static_cast<float>(sum) / (255.0f * (sy1 - sy0) * (sx1 - sx0));
        }
      }
    }
  }
  return out;
}

void ImageLoader::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || (next_ >= 0 && static_cast<int64_t>(ready_.size()) < opt_.prefetch); });
    if (stop_) return;
    in_flight_ = next_++;
    lock.unlock();
    Tensor t = make_batch(in_flight_);
    lock.lock();
    ready_.emplace_back(in_flight_, std::move(t));
    in_flight_ = -1;
    cv_.notify_all();
  }
}

Tensor ImageLoader::batch(int64_t step) {
  std::unique_lock<std::mutex> lock(mu_);
  if (next_ < 0) next_ = step;  // the first request starts the prefetcher there
  // The first step the worker will still deliver; an earlier one is computed here instead.
  const int64_t pending = !ready_.empty() ? ready_.front().first : in_flight_ >= 0 ? in_flight_ : next_;
  if (step < pending) {
    lock.unlock();
    return make_batch(step);
  }
  cv_.notify_all();
  for (;;) {
    while (!ready_.empty() && ready_.front().first < step) {
      ready_.pop_front();  // skipped steps: frees a slot so the worker moves on
      cv_.notify_all();
    }
    if (!ready_.empty()) break;  // the front is `step`: steps arrive in order
    cv_.wait(lock);
  }
  Tensor t = std::move(ready_.front().second);
  ready_.pop_front();
  cv_.notify_all();
  return t;
}

}  // namespace sn
