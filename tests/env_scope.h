// An environment variable set for one scope, and put back as it was (set or unset) when the scope
// ends, even when a check fails.
#pragma once
#include <cstdlib>
#include <optional>
#include <string>

namespace sn::test {

class EnvScope {
 public:
  EnvScope(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* v = std::getenv(name_.c_str())) saved_ = v;
    set(value);
  }
  ~EnvScope() {
    if (saved_) ::setenv(name_.c_str(), saved_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  EnvScope(const EnvScope&) = delete;
  EnvScope& operator=(const EnvScope&) = delete;

  void set(const std::string& value) const { ::setenv(name_.c_str(), value.c_str(), 1); }

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

}  // namespace sn::test
