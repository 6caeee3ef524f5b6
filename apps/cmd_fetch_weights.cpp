// `stylenet fetch-weights`: downloads torchvision's VGG16, checks its digest, converts it to
// safetensors where the tools look by default. Downloads with the system's curl (no new library
// dependency); without a network it fails at once and says how to install a file obtained elsewhere.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/args.h"
#include "apps/command.h"
#include "vision/vgg16.h"
#include "vision/vgg16_convert.h"
#include "tensor/error.h"
#include "weights/sha256.h"

extern char** environ;

namespace sn::cli {

namespace {

constexpr const char* kOfficialUrl = "https://download.pytorch.org/models/vgg16-397923af.pth";
// torchvision names its files after the first hex digits of their SHA-256 and checks only those.
constexpr const char* kDigestPrefix = "397923af";

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::filesystem::path candidate = std::filesystem::path(dirs.substr(begin, end - begin)) / program;
    if (end > begin && ::access(candidate.c_str(), X_OK) == 0) return true;
    begin = end + 1;
  }
  return false;
}

// Runs curl without a shell; returns its exit status (or -1 when it could not be run).
int run_curl(const std::string& url, const std::filesystem::path& dest) {
  std::vector<std::string> cmd = {"curl", "--fail", "--location", "--connect-timeout", "10",
                                  // a stalled transfer (under 1 kB/s for a minute) is given up
                                  "--speed-limit", "1024", "--speed-time", "60", "--output", dest.string()};
  if (::isatty(STDERR_FILENO)) cmd.push_back("--progress-bar");
  else cmd.push_back("--silent");  // our own message explains a failure
  cmd.push_back(url);
  std::vector<char*> argv;
  for (auto& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "curl", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string how_to_install_by_hand(const std::filesystem::path& out) {
  return "download " + std::string(kOfficialUrl) + " on a machine with internet access, copy it here and run " +
         "'stylenet convert vgg16-397923af.pth " + out.string() + "' (its SHA-256 must start with " + kDigestPrefix +
         "); the tools read that file by default, or the one $STYLENET_WEIGHTS names";
}

// Removes the partial download on every path out.
struct RemoveOnExit {
  std::filesystem::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

int run(const std::vector<std::string>& argv) {
  const Args args(argv, {"out", "url"}, {});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::filesystem::path out = args.get("out", default_weights_path().string());
  const std::string url = args.get("url", kOfficialUrl);
  if (!on_path("curl")) throw Error("curl is not installed (needed to download); instead, " + how_to_install_by_hand(out));

  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  const RemoveOnExit download{std::filesystem::path(out.string() + ".download." + std::to_string(::getpid()))};
  std::printf("downloading %s\n", url.c_str());
  std::fflush(stdout);  // before curl writes its progress
  const int code = run_curl(url, download.path);
  if (code != 0) {
    const char* why = code == 6 ? "cannot resolve the host"
                      : code == 7 ? "cannot connect"
                      : code == 28 ? "timed out"
                      : code == 22 ? "the server refused the request"
                                   : "download failed";
    throw Error("cannot download " + url + ": " + why + " (curl exit status " + std::to_string(code) +
                "); if this machine is offline, " + how_to_install_by_hand(out));
  }
  const std::string digest = sha256_file_hex(download.path);
  if (digest.rfind(kDigestPrefix, 0) != 0)
    throw Error("the downloaded file's SHA-256 is " + digest + ", which does not start with " + kDigestPrefix +
                ": damaged or not torchvision's vgg16-397923af.pth; nothing was installed");
  const ConversionSummary s = convert_to_safetensors(download.path, out);
  std::printf("verified sha256 %s\nconverted %lld tensors (%s)\nwrote %s\n", digest.c_str(),
              static_cast<long long>(s.tensors), s.architecture.c_str(), out.c_str());
  return 0;
}

}  // namespace

extern const Command kFetchWeightsCommand = {
    "fetch-weights", "download torchvision's pretrained VGG16 and install it as safetensors",
    "usage: stylenet fetch-weights [--out PATH] [--url URL]\n"
    "Downloads vgg16-397923af.pth (527.8 MB) with curl, checks that its SHA-256 starts with\n"
    "397923af, and converts it to safetensors at PATH (default: $XDG_CACHE_HOME/stylenet/\n"
    "vgg16.safetensors, i.e. ~/.cache/stylenet/vgg16.safetensors, where the tools look when\n"
    "$STYLENET_WEIGHTS is not set). --url names a mirror of the same file.\n"
    "Offline, it fails at once and explains how to install a copy obtained elsewhere:\n"
    "  stylenet convert vgg16-397923af.pth ~/.cache/stylenet/vgg16.safetensors\n",
    run};

}  // namespace sn::cli
