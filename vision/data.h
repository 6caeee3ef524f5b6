// Finding and sampling the shared image data (../shared/data by default).
#pragma once
#include <string>
#include <vector>

#include <cstdint>

namespace sn {

// The shared data root: $STYLENET_DATA if set, else the path compiled in (the repository's
// ../shared). Throws with a clear message if it does not hold data/.
std::string data_root();

// Image files (jpg, jpeg, png, bmp) directly inside `dir`, sorted by name so every machine
// sees the same order. Throws if the folder is missing or holds no images.
std::vector<std::string> list_images(const std::string& dir);

// The shared sample images ($STYLENET_DATA/data/samples) whose file names start with `prefix`
// ("content_" photos, "style_" artworks), sorted by name.
std::vector<std::string> sample_images(const std::string& prefix);

// The held-out split of a sorted file list: every `every`-th file (index % every == 0) is held
// out, the rest train. `stylenet train --holdout N` trains on the rest of every folder; the
// judge (training/judge.h) learns and is scored on the held-out part only, so it never sees what
// the generator trained on. every <= 1 holds nothing out (train: all files; held out: none).
std::vector<std::string> holdout_split(const std::vector<std::string>& files, int64_t every, bool held_out);

// At most `max` of `files`, evenly spaced, so that every prefix of a sorted list (bsds_,
// cyclegan_, ...) is represented; all of them when max <= 0 or there are no more than max.
std::vector<std::string> evenly_spaced(const std::vector<std::string>& files, int64_t max);

}  // namespace sn
