// Training the style-transfer model in stages, on content photos and style artworks:
//
//   decoder  G learns to invert the frozen encoder F at the fusion tap: pixel MSE plus the
//            content (perceptual) loss between F(G(F(x))) and F(x).
//   fusion   W (LearnedFusion) learns with F and G frozen: t = W(F(c), F(s)), y = G(t);
//            content loss between F(y) and t at the tap, style losses (mean/std, optional Gram)
//            between F(y) and F(s) at the style taps, optional total variation.
//   joint    the same loss as fusion, with G trainable too (fine-tuning).
//
// Adversarial training (fusion and joint stages, AdversarialOptions::real_dir set): a PatchGAN
// discriminator D (training/discriminator.h) learns to tell crops of real artworks from the
// stylized outputs (drawn through an ImagePool, training/gan.h), and the generator's GAN loss on
// D's verdict joins the stage loss with a small weight. D, its optimizer and the pool are part
// of the checkpoint, so --resume stays bit-identical.
//
// A run lives in one folder: checkpoint.safetensors (every N steps and at the end, written
// atomically), log.jsonl (one line of losses per step), loss.png, samples/step_<n>.png and
// model.safetensors (the model alone, what `stylize --model` takes). Resuming from the folder
// continues exactly as the uninterrupted run would (same seed and thread count): every batch is
// a function of (seed, step), and model, optimizer and schedule state are saved in full.
// SIGINT/SIGTERM finish the current step, save a checkpoint and return.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "training/train_options.h"

namespace sn {

struct TrainReport {
  int64_t first_step = 0, last_step = 0;  // steps run by this call (first_step > last_step: none)
  bool interrupted = false;
  std::map<std::string, std::vector<double>> losses;  // per term, the steps run by this call
};

// Runs (or resumes) a stage. `progress(step, total, terms)` is called after each step.
using TrainProgress = std::function<void(int64_t, int64_t, const std::map<std::string, double>&)>;
TrainReport train_style_model(const TrainOptions& options, const TrainProgress& progress = nullptr);

// The loss of one stage on one batch (content [N, 3, h, w]; style likewise, unused by the decoder
// stage), with its unweighted terms and "loss" (the weighted total) as numbers for logging. What
// each training step minimises; also what tests evaluate on fixed held-out batches.
struct StageLoss {
  Tensor total;
  std::map<std::string, double> terms;
  Tensor image;  // the decoded batch (what a discriminator judges), on the autograd graph
};
StageLoss stage_loss(const Vgg16& encoder, const StyleModel& model, const TrainOptions& options,
                     const Tensor& content, const Tensor& style);

// Writes the model held by run_dir's checkpoint to `out` (a run need not have finished): what
// ships a model, F16 to halve it. With `collection_dir`, the model gets the built-in style of the
// artworks there the run trained on (collection_style over the files its --holdout kept; named
// after the folder), so stylize needs no style image.
// Returns the checkpoint's step.
int64_t export_model(const std::string& run_dir, const std::string& out, StoredDType stored,
                     const std::string& collection_dir = "");

// Asks a running train_style_model to stop after its current step (what SIGINT does).
void request_training_stop();

}  // namespace sn
