/* fuzz_image.c: libFuzzer harness for the image loader.
 *
 * The input is one file, read through fmemopen by decode_image (the
 * loader of `images` data): the signature, the pixel cap, the PNG and JPEG
 * checks, stb_image's decoders and the resize to the model's shape, with
 * stb compiled in (stb_impl.c).  The
 * model (gray or RGB, and its small size) comes from the input's length:
 * a file of the other kind is refused before decoding, one of the model's
 * size is copied and any other resized. */
/* A 8192 x 8192 image takes minutes to decode under the sanitizers; the
 * cap itself is tested in test_runtime. */
#define GENRT_DATA_MAX_IMAGE_PIXELS (1L << 18)
#include "genrt_data.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the model, from the input's length: gray or RGB, and a small size */
    int c = size % 2 ? 3 : 1, w = 1 + (int)(size / 2 % 13), h = 1 + (int)(size / 26 % 11);
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0; /* fmemopen refuses size 0 */
    uint8_t *out = genrt_file_xmalloc((size_t)c * h * w);
    struct genrt_err err;
    decode_image(f, "fuzz.png", c, h, w, out, &err);
    fclose(f);
    free(out);
    return 0;
}
