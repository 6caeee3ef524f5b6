// Runs the built `stylenet` binary from tests, capturing its exit status, stdout and stderr.
// The binary's path comes from the build (STYLENET_CLI_PATH), so tests exercise exactly what a
// user runs. POSIX only (popen and wait status), as are these machines.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sn::test {

struct CliResult {
  int status = -1;  // exit status; 128 + signal if it was killed
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline CliResult run_cli(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path err_file = fs::temp_directory_path() / ("stylenet_cli_err_" + std::to_string(::getpid()) +
                                                         "_" + std::to_string(counter++));
  std::string cmd = shell_quote(STYLENET_CLI_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>" + shell_quote(err_file.string());
  CliResult r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int w = ::pclose(pipe);
  r.status = WIFEXITED(w) ? WEXITSTATUS(w) : 128 + (WIFSIGNALED(w) ? WTERMSIG(w) : 0);
  std::ifstream ef(err_file);
  std::stringstream ss;
  ss << ef.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

// Lines of text, without the empty last one.
inline int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

}  // namespace sn::test
