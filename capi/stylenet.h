/* StyleNet's C interface: stylize an RGB picture from C, C++ or any language with a C FFI.
 *
 *   sn_encoder* enc; sn_model* model; sn_options opt;
 *   sn_encoder_load(NULL, &enc);              (the VGG16 weights StyleNet finds, else the stand-in)
 *   sn_model_load("default", &model);         (a model file, or the name of a shipped one)
 *   sn_options_init(&opt);
 *   sn_stylize(enc, model, &photo, &style, &opt, &out);
 *   ... out.pixels, out.width, out.height ...
 *   sn_image_free(&out); sn_model_free(model); sn_encoder_free(enc);
 *
 * Every call returns SN_OK or an error code, and then sn_last_error() says what went wrong in one
 * line (per thread). No C++ exception ever crosses this interface.
 *
 * Thread safety: encoders and models are read-only once loaded, so any number of threads may
 * call sn_stylize with the same ones at the same time. sn_set_threads changes a process-wide
 * setting: call it before stylizing, not during. sn_last_error is per thread.
 *
 * C99; the ABI is versioned by the library's SONAME (libstylenet.so.<major>). */
#ifndef STYLENET_H
#define STYLENET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sn_status {
  SN_OK = 0,
  SN_INVALID_ARGUMENT = 1, /* a null pointer, a size of 0, an option out of range */
  SN_FAILED = 2,           /* the work failed: unreadable or corrupt file, wrong encoder, ... */
  SN_OUT_OF_MEMORY = 3
} sn_status;

/* "0.1.0", and its parts. */
const char* sn_version(void);
int sn_version_major(void);
int sn_version_minor(void);
int sn_version_patch(void);

/* The message of this thread's last failed call ("" if none failed yet). Valid until this thread's
 * next call into StyleNet. */
const char* sn_last_error(void);

/* An 8-bit RGB picture: row y starts at pixels + y * stride (stride >= 3 * width). */
typedef struct sn_image {
  uint8_t* pixels;
  int32_t width, height;
  int32_t stride;
} sn_image;

/* Reads a PNG/JPEG/BMP/TGA file into a new buffer (free it with sn_image_free). */
sn_status sn_image_load(const char* path, sn_image* out);
/* Writes PNG or JPEG, chosen by the extension; the file appears whole or not at all. */
sn_status sn_image_save(const char* path, const sn_image* image);
/* Frees what sn_image_load or sn_stylize allocated and zeroes *image; NULL or empty is fine. */
void sn_image_free(sn_image* image);

typedef struct sn_encoder sn_encoder;
typedef struct sn_model sn_model;

/* The VGG16 encoder: from `weights` (a .pth or safetensors file), or with NULL the file the
 * command uses ($STYLENET_WEIGHTS, then the fetch-weights cache), else the built-in stand-in. */
sn_status sn_encoder_load(const char* weights, sn_encoder** out);
/* 1 when the encoder is the deterministic stand-in (no pretrained weights were found). */
int sn_encoder_is_standin(const sn_encoder* encoder);
void sn_encoder_free(sn_encoder* encoder);

/* A style model file, or the name of a shipped one ("default", "vangogh"). */
sn_status sn_model_load(const char* path_or_name, sn_model** out);
/* 1 when the model paints in a built-in style (no style picture needed). */
int sn_model_has_builtin_style(const sn_model* model);
void sn_model_free(sn_model* model);

/* SN_MULTILEVEL: WCT at the model's tap, then at each shallower level the model has (its shallow
 * decoders); SN_LEARNED_MULTILEVEL: the learned fusion, then WCT at the shallower levels. */
typedef enum sn_method {
  SN_LEARNED = 0, SN_ADAIN = 1, SN_WCT = 2, SN_OPTIMIZE = 3, SN_MULTILEVEL = 4, SN_LEARNED_MULTILEVEL = 5
} sn_method;

/* The most shallower levels a model has (relu2_1, relu1_1 under a relu3_1 tap; one more under relu4_1). */
#define SN_MAX_LEVEL_ALPHA 4

/* sn_options.style_size's default: the style taken at twice the photo's short side, 128 to 512 px. */
#define SN_STYLE_SIZE_AUTO (-1)

typedef struct sn_options {
  sn_method method;      /* default SN_LEARNED_MULTILEVEL (SN_LEARNED for a built-in style: style NULL) */
  double alpha;          /* style strength in [0, 1]; default 1 */
  int32_t preserve_color;/* keep the photo's colours; default 0 */
  int32_t size;          /* resize the photo so its short side is this first; 0 (default): as is */
  int32_t style_size;    /* short side of the style picture; default SN_STYLE_SIZE_AUTO (twice the
                            photo's short side, 128 to 512 px); 0: as is */
  int32_t tile;          /* tile side for large pictures; default 512; 0: whole picture at once */
  int32_t steps;         /* optimisation steps for SN_OPTIMIZE; default 300 */
  int32_t level_count;   /* multi-level methods: the first level_count entries of level_alpha are the
                            strengths at the shallower levels, deepest first (a level without one
                            takes alpha); default 0; more than the model has levels is an error */
  double level_alpha[SN_MAX_LEVEL_ALPHA];
  double smooth;         /* feed-forward methods: edge-aware smoothing with the photo as guide after
                            decoding, radius per 256 px of the photo's short side; default 2; 0: off */
  int32_t match_colors;  /* feed-forward methods: give the picture the style's colours; default 1 */
} sn_options;

/* The defaults above, as `stylenet stylize` has them. */
void sn_options_init(sn_options* options);

/* Paints `photo` in the style of `style` (NULL: the model's built-in style) into a new picture
 * `out` (free it with sn_image_free). The same result as `stylenet stylize` with these options. */
sn_status sn_stylize(const sn_encoder* encoder, const sn_model* model, const sn_image* photo, const sn_image* style,
                     const sn_options* options, sn_image* out);

/* The size sn_stylize makes of a photo of width x height (options->size resizes it first). */
sn_status sn_output_size(int32_t width, int32_t height, const sn_options* options, int32_t* out_width,
                         int32_t* out_height);
/* As sn_stylize, into the caller's picture: out->pixels and out->stride are the caller's, and
 * out->width and out->height must be what sn_output_size gives. */
sn_status sn_stylize_into(const sn_encoder* encoder, const sn_model* model, const sn_image* photo,
                          const sn_image* style, const sn_options* options, sn_image* out);

/* Threads for all work (default: STYLENET_THREADS or every core). */
sn_status sn_set_threads(int32_t threads);

#ifdef __cplusplus
}
#endif

#endif /* STYLENET_H */
