/* stb_impl.c: stb_image and stb_image_resize, compiled into fuzz_image
 * (instrumented, so the fuzzer sees their branches) instead of taken from
 * libstb.  Built without UBSan's pointer-overflow and nonnull-attribute
 * checks: for a PNG whose first IDAT chunk is empty, stb_image 2.27
 * computes NULL + 0 and calls memcpy(NULL, p, 0), harmless both
 * (regress/image/png_empty_first_idat.png), and either would stop every
 * run. */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
