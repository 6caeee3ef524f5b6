#include "tensor/env.h"

#include <cstdlib>

#include "tensor/error.h"

namespace sn {

const char* env_value(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::filesystem::path user_cache_dir() {
  if (const char* xdg = env_value("XDG_CACHE_HOME")) return std::filesystem::path(xdg) / "stylenet";
  if (const char* home = env_value("HOME")) return std::filesystem::path(home) / ".cache" / "stylenet";
  return {};
}

int64_t env_integer(const char* name, int64_t fallback, int64_t min, int64_t max, const char* what) {
  const char* v = env_value(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  SN_CHECK(*end == '\0' && n >= min && n <= max, name, "='", v, "' is not ", what);
  return n;
}

double env_number(const char* name, double fallback, double min, double max, const char* what) {
  const char* v = env_value(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  SN_CHECK(*end == '\0' && x >= min && x <= max, name, "='", v, "' is not ", what);
  return x;
}

}  // namespace sn
