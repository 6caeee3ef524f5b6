// The ways StyleNet can paint a photo, in one table: their names on the command line, what each
// is, and which of them are fusions (the feed-forward path: encode, fuse, decode). `stylize`,
// `eval` and the help texts all read this table; nothing else compares method names.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sn {

// The fusions: how content features take on a style's statistics (stylenet/fusion.h).
enum class FusionMethod { Learned, AdaIN, WCT };

enum class Method {
  Learned, AdaIN, WCT,  // feed-forward, one fusion each, at the model's tap
  MultiLevel,           // WCT at the model's tap, then at each shallower level the model has
  LearnedMultiLevel,    // the learned fusion at the model's tap, then WCT at each shallower level
  Optimize,             // Gatys-style optimisation of the image itself (stylenet/optimize.h)
  Refine,               // the learned result, then a few steps of that optimisation
  DecodedOptimize,      // diagnostic: the optimum through the model's encoder and decoder
  Reconstruct,          // diagnostic: the photo through the model's encoder and decoder
};

// What `stylenet stylize` and the C API paint with when no method is named: chosen by the
// held-out protocol (scripts/heldout.sh; README, "Multi-level transfer"). With no style image, a
// collection model's built-in style, which only the learned fusion can use, takes its place.
constexpr Method kDefaultMethod = Method::LearnedMultiLevel;

struct MethodInfo {
  Method method;
  const char* name;                   // as typed: "learned", "decoded-optimize", ...
  const char* summary;                // one line for help texts
  std::optional<FusionMethod> fusion; // set for the feed-forward methods
  bool stylize;                       // offered by `stylenet stylize` (else only by `eval`)
  const char* alias = nullptr;        // another accepted name ("lst")
  bool multi_level = false;           // the fusion runs at every level of the model, deepest first
};

// Every method, in the order help texts list them.
const std::vector<MethodInfo>& method_table();
const MethodInfo& method_info(Method method);
// Case-insensitive, aliases included; throws sn::Error naming the choices.
Method parse_method(std::string_view name);
// The fusion `name` stands for; throws sn::Error naming the fusions for any other name.
FusionMethod parse_fusion_method(std::string_view name);
const char* method_name(Method method);
const char* fusion_method_name(FusionMethod method);
Method method_of(FusionMethod fusion);

// "name1, name2, ..." of the methods that pass `keep` (for error messages and help texts).
std::string method_list(bool (*keep)(const MethodInfo&) = nullptr);
// One "  name   summary" line per method that passes `keep`, names padded to `width`.
std::string method_help(bool (*keep)(const MethodInfo&), int width);

}  // namespace sn
