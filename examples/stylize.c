/* Stylize a photo from C through libstylenet's C interface.
 *   stylize_c PHOTO STYLE OUT.png [SIZE]
 * SIZE: the photo's short side first (as `stylenet stylize --size`); the style is resized as the
 * command does (512). The default model and the VGG16 weights StyleNet finds (else the stand-in). */
#include <stdio.h>
#include <stdlib.h>

#include <stylenet/stylenet.h>

static int fail(const char* what) {
  fprintf(stderr, "stylize_c: %s: %s\n", what, sn_last_error());
  return 1;
}

int main(int argc, char** argv) {
  sn_encoder* encoder = NULL;
  sn_model* model = NULL;
  sn_image photo = {0}, style = {0}, out = {0};
  sn_options options;
  int status = 1;
  if (argc < 4) {
    fprintf(stderr, "usage: stylize_c PHOTO STYLE OUT.png [SIZE]\n");
    return 2;
  }
  sn_options_init(&options);
  if (argc > 4) options.size = atoi(argv[4]);
  if (sn_image_load(argv[1], &photo) != SN_OK) return fail("photo");
  if (sn_image_load(argv[2], &style) != SN_OK) { status = fail("style"); goto done; }
  if (sn_encoder_load(NULL, &encoder) != SN_OK) { status = fail("encoder"); goto done; }
  if (sn_model_load("default", &model) != SN_OK) { status = fail("model"); goto done; }
  if (sn_stylize(encoder, model, &photo, &style, &options, &out) != SN_OK) { status = fail("stylize"); goto done; }
  if (sn_image_save(argv[3], &out) != SN_OK) { status = fail("save"); goto done; }
  printf("stylenet %s: wrote %s (%dx%d)\n", sn_version(), argv[3], out.width, out.height);
  status = 0;
done:
  sn_image_free(&out);
  sn_image_free(&style);
  sn_image_free(&photo);
  sn_model_free(model);
  sn_encoder_free(encoder);
  return status;
}
