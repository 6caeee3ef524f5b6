#!/usr/bin/env python3
"""Stylize a NumPy array through libstylenet's C interface with ctypes (NumPy is the only dependency).

    python3 stylize.py LIBSTYLENET.so PHOTO STYLE OUT.png [SIZE]
"""
import ctypes as C
import sys

import numpy as np


class Image(C.Structure):  # sn_image
    _fields_ = [("pixels", C.POINTER(C.c_uint8)), ("width", C.c_int32), ("height", C.c_int32), ("stride", C.c_int32)]


class Options(C.Structure):  # sn_options
    _fields_ = [("method", C.c_int), ("alpha", C.c_double), ("preserve_color", C.c_int32), ("size", C.c_int32),
                ("style_size", C.c_int32), ("tile", C.c_int32), ("steps", C.c_int32),
                ("level_count", C.c_int32), ("level_alpha", C.c_double * 4),  # SN_MAX_LEVEL_ALPHA
                ("smooth", C.c_double), ("match_colors", C.c_int32)]


def check(lib, status, what):
    if status != 0:
        raise RuntimeError(f"{what}: {lib.sn_last_error().decode()}")


def load(lib, path):
    """A picture file as an H x W x 3 uint8 array (copied out of the library's buffer)."""
    img = Image()
    check(lib, lib.sn_image_load(path.encode(), C.byref(img)), "load")
    rows = np.ctypeslib.as_array(img.pixels, shape=(img.height, img.stride))
    array = rows[:, : 3 * img.width].reshape(img.height, img.width, 3).copy()
    lib.sn_image_free(C.byref(img))
    return array


def view(array):
    """An sn_image over a C-contiguous H x W x 3 uint8 array (no copy)."""
    h, w, _ = array.shape
    return Image(array.ctypes.data_as(C.POINTER(C.c_uint8)), w, h, 3 * w)


def main(lib_path, photo_path, style_path, out_path, size="0"):
    lib = C.CDLL(lib_path)
    lib.sn_last_error.restype = C.c_char_p
    lib.sn_version.restype = C.c_char_p
    photo, style = np.ascontiguousarray(load(lib, photo_path)), np.ascontiguousarray(load(lib, style_path))
    encoder, model = C.c_void_p(), C.c_void_p()
    check(lib, lib.sn_encoder_load(None, C.byref(encoder)), "encoder")
    check(lib, lib.sn_model_load(b"default", C.byref(model)), "model")
    options = Options()
    lib.sn_options_init(C.byref(options))
    options.size = int(size)
    # The result into a NumPy array of our own: sn_output_size, then sn_stylize_into.
    w, h = C.c_int32(), C.c_int32()
    check(lib, lib.sn_output_size(photo.shape[1], photo.shape[0], C.byref(options), C.byref(w), C.byref(h)), "size")
    out = np.empty((h.value, w.value, 3), dtype=np.uint8)
    out_image = view(out)
    check(lib, lib.sn_stylize_into(encoder, model, C.byref(view(photo)), C.byref(view(style)), C.byref(options),
                                   C.byref(out_image)), "stylize")
    check(lib, lib.sn_image_save(out_path.encode(), C.byref(view(out))), "save")
    lib.sn_model_free(model)
    lib.sn_encoder_free(encoder)
    print(f"stylenet {lib.sn_version().decode()}: wrote {out_path} ({w.value}x{h.value}), mean {out.mean():.1f}")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
