#!/usr/bin/env bash
# test_install: StyleNet as another program meets it. Installs the build into a fresh prefix,
# builds the examples against that prefix (CMake package, then pkg-config), runs them and the
# Python ctypes example on a sample photo, and requires their PNGs to be byte-identical to what the
# installed `stylenet stylize` writes with the same options (same pixels, same encoder). Also
# compiles the C header as C99 and C++ with warnings as errors, and every installed C++ header on
# its own (nothing internal may leak into the public headers).
#   check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1" src="$2"
work="$build/install_check"
rm -rf "$work" && mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libstylenet.so' | head -1)")
export STYLENET_THREADS=2 STYLENET_WEIGHTS=standin
data="${STYLENET_DATA:-$src/../shared}/data/samples"
photo="$data/content_sailboat.jpg" style="$data/style_wave.jpg"

# The reference: the installed command, run from elsewhere (it finds the installed default model).
(cd "$work" && "$prefix/bin/stylenet" stylize --content "$photo" --style "$style" --out ref.png --size 96 --quiet)

check_same() {  # name file
  cmp "$work/ref.png" "$2" || { echo "FAIL: $1 differs from stylenet stylize" >&2; exit 1; }
  echo "ok: $1 gives stylenet stylize's picture, byte for byte"
}

for how in cmake pkgconfig; do
  b="$work/examples-$how"
  if [ $how = cmake ]; then
    cmake -S "$src/examples" -B "$b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  else
    PKG_CONFIG_PATH="$libdir/pkgconfig" cmake -S "$src/examples" -B "$b" -DSTYLENET_USE_PKGCONFIG=ON >/dev/null
  fi
  cmake --build "$b" -j2 >/dev/null
  for ex in stylize_c stylize_cpp; do
    LD_LIBRARY_PATH="$libdir" "$b/$ex" "$photo" "$style" "$work/$ex-$how.png" 96 >/dev/null
    check_same "$ex ($how)" "$work/$ex-$how.png"
  done
done
/usr/bin/python3 "$src/examples/stylize.py" "$libdir/libstylenet.so" "$photo" "$style" "$work/python.png" 96 >/dev/null
check_same "stylize.py (ctypes, NumPy)" "$work/python.png"

# The public headers.
inc="$prefix/include"
printf '#include <stylenet/stylenet.h>\nint main(void) { return sn_version_major() < 0; }\n' >"$work/h.c"
cc -std=c99 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$work/h.c" -o "$work/h_c.o"
c++ -std=c++11 -Wall -Wextra -pedantic -Werror -x c++ -I"$inc" -c "$work/h.c" -o "$work/h_cpp.o"
echo "ok: stylenet.h compiles as C99 and as C++11 with -Wall -Wextra -pedantic -Werror"
n=0
while read -r h; do
  rel="${h#$inc/stylenet/}"
  printf '#include "%s"\n' "$rel" >"$work/one.cpp"
  c++ -std=c++20 -fsyntax-only -I"$inc" -I"$inc/stylenet" "$work/one.cpp" ||
    { echo "FAIL: installed header $rel does not compile on its own" >&2; exit 1; }
  n=$((n + 1))
done < <(find "$inc/stylenet" -mindepth 2 -name '*.h' | sort)
echo "ok: each of the $n installed C++ headers compiles on its own"
# Nothing internal was installed.
if find "$inc" -path '*tensor/cpu*' -o -name '*_impl.h' | grep -q .; then echo "FAIL: internal headers installed" >&2; exit 1; fi
