/* png_to_ppm IN.png OUT.ppm: a PNG as binary RGB (P6), for
 * tests/report_check.py, which reads the screenshot's pixels. */
#include <stdio.h>

#include <stb/stb_image.h> /* libstb's, linked with -lstb */

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: png_to_ppm IN.png OUT.ppm\n");
        return 1;
    }
    int w, h, n;
    unsigned char *p = stbi_load(argv[1], &w, &h, &n, 3);
    if (!p) {
        fprintf(stderr, "png_to_ppm: %s: %s\n", argv[1], stbi_failure_reason());
        return 1;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f || fprintf(f, "P6\n%d %d\n255\n", w, h) < 0 ||
        fwrite(p, 3, (size_t)w * h, f) != (size_t)w * h || fclose(f) != 0) {
        fprintf(stderr, "png_to_ppm: cannot write %s\n", argv[2]);
        return 1;
    }
    stbi_image_free(p);
    return 0;
}
