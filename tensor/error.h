// One exception type for every misuse of the library, with messages that name the op and the shapes.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sn {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// "[2, 3, 4]" — used in every shape error message.
std::string shape_str(const std::vector<int64_t>& shape);

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace sn

// SN_CHECK(cond, "op: ", "message parts", ...) throws sn::Error with the parts concatenated.
#define SN_CHECK(cond, ...)                                 \
  do {                                                      \
    if (!(cond)) throw ::sn::Error(::sn::detail::cat(__VA_ARGS__)); \
  } while (0)
