// Settings read from the environment (STYLENET_THREADS, STYLENET_MAX_PIXELS, ...): one parser and
// one wording for a bad value, so that every variable fails the same clear way.
#pragma once
#include <cstdint>
#include <filesystem>

namespace sn {

// $name, or null when it is unset or empty.
const char* env_value(const char* name);
// This user's cache folder for StyleNet: $XDG_CACHE_HOME/stylenet, else $HOME/.cache/stylenet;
// empty when neither is set.
std::filesystem::path user_cache_dir();

// $name as an integer in [min, max], or `fallback` when it is unset or empty. Throws sn::Error
// naming the variable, its value and `what` it must be ("a thread count (an integer >= 1)").
int64_t env_integer(const char* name, int64_t fallback, int64_t min, int64_t max, const char* what);
// The same for a number (digits, point, exponent) in [min, max].
double env_number(const char* name, double fallback, double min, double max, const char* what);

}  // namespace sn
