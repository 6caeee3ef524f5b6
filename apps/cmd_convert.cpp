// `stylenet convert IN OUT`: a PyTorch .pth (legacy or zip) or safetensors file -> safetensors.
#include <cstdio>

#include "apps/args.h"
#include "apps/command.h"
#include "vision/vgg16_convert.h"

namespace sn::cli {

namespace {

// 138357544 -> "138,357,544"
std::string thousands(int64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

int run(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {});
  if (args.positional().size() != 2) throw UsageError("expects two arguments, IN and OUT");
  const std::string& in = args.positional()[0];
  const std::string& out = args.positional()[1];
  const ConversionSummary s = convert_to_safetensors(in, out);
  std::printf("converted %s\n  format: %s\n  sha256: %s\n  architecture: %s\n", in.c_str(), s.format.c_str(),
              s.source_sha256.c_str(), s.architecture.c_str());
  std::printf("  %lld tensors, %s parameters, %s bytes\nwrote %s\n", static_cast<long long>(s.tensors),
              thousands(s.parameters).c_str(), thousands(s.bytes).c_str(), out.c_str());
  return 0;
}

}  // namespace

extern const Command kConvertCommand = {
    "convert", "convert PyTorch .pth or safetensors weights to safetensors",
    "usage: stylenet convert IN OUT\n"
    "Reads IN — a PyTorch state_dict saved with torch.save (the legacy format of torchvision's\n"
    "official files, or the zip format of PyTorch 1.6+) or a safetensors file — and writes its\n"
    "tensors to OUT as safetensors. No Python code in IN is ever run: only the pickle contents of a\n"
    "plain state_dict are understood, anything else is refused. The metadata of OUT records the\n"
    "source file's name and SHA-256 and, for VGG16, the architecture, layout and input\n"
    "preprocessing. OUT appears complete or not at all.\n",
    run};

}  // namespace sn::cli
