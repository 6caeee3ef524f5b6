#include "stylenet/methods.h"

#include <algorithm>
#include <cctype>

#include "tensor/error.h"

namespace sn {

const std::vector<MethodInfo>& method_table() {
  static const std::vector<MethodInfo> table = {
      {Method::Learned, "learned", "the model's learned fusion (LST: W predicted from both covariances)",
       FusionMethod::Learned, true, "lst"},
      {Method::AdaIN, "adain", "per-channel mean and std of the style (AdaIN), through the model's decoder",
       FusionMethod::AdaIN, true},
      {Method::WCT, "wct", "whitening and colouring with the full covariances (WCT), through the decoder",
       FusionMethod::WCT, true},
      {Method::MultiLevel, "multilevel",
       "WCT at the model's tap, decoded, then again at each shallower level it has (relu2_1, relu1_1)",
       FusionMethod::WCT, true, "ml", true},
      {Method::LearnedMultiLevel, "learned-multilevel",
       "the learned fusion at the model's tap, then WCT at each shallower level", FusionMethod::Learned, true,
       nullptr, true},
      {Method::Optimize, "optimize", "optimise the image itself (Gatys, L-BFGS): slow, no model", std::nullopt, true},
      {Method::Refine, "refine", "the learned result, then --refine-steps of that optimisation", std::nullopt, false},
      {Method::DecodedOptimize, "decoded-optimize",
       "diagnostic: the optimum through the model's encoder and decoder", std::nullopt, false},
      {Method::Reconstruct, "reconstruct", "diagnostic: the photo through the model's encoder and decoder",
       std::nullopt, false},
  };
  return table;
}

const MethodInfo& method_info(Method method) {
  for (const MethodInfo& m : method_table())
    if (m.method == method) return m;
  throw Error("method_info: unknown method");
}

namespace {

bool same_name(std::string_view a, const char* b) {
  if (!b) return false;
  const std::string_view bv(b);
  return a.size() == bv.size() && std::equal(a.begin(), a.end(), bv.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == y;
         });
}

bool is_fusion(const MethodInfo& m) { return m.fusion.has_value(); }

}  // namespace

Method parse_method(std::string_view name) {
  for (const MethodInfo& m : method_table())
    if (same_name(name, m.name) || same_name(name, m.alias)) return m.method;
  throw Error("unknown method '" + std::string(name) + "' (choose " + method_list() + ")");
}

FusionMethod parse_fusion_method(std::string_view name) {
  for (const MethodInfo& m : method_table())
    if (m.fusion && (same_name(name, m.name) || same_name(name, m.alias))) return *m.fusion;
  throw Error("unknown fusion method '" + std::string(name) + "' (choose " + method_list(is_fusion) + ")");
}

const char* method_name(Method method) { return method_info(method).name; }

Method method_of(FusionMethod fusion) {
  for (const MethodInfo& m : method_table())
    if (m.fusion == fusion) return m.method;
  throw Error("method_of: unknown fusion method");
}

const char* fusion_method_name(FusionMethod method) { return method_name(method_of(method)); }

std::string method_list(bool (*keep)(const MethodInfo&)) {
  std::string out;
  for (const MethodInfo& m : method_table())
    if (!keep || keep(m)) out += (out.empty() ? "" : ", ") + std::string(m.name);
  return out;
}

std::string method_help(bool (*keep)(const MethodInfo&), int width) {
  std::string out;
  for (const MethodInfo& m : method_table()) {
    if (keep && !keep(m)) continue;
    std::string name = m.name;
    name.resize(std::max<size_t>(name.size() + 1, static_cast<size_t>(width)), ' ');
    out += "    " + name + m.summary + "\n";
  }
  return out;
}

}  // namespace sn
