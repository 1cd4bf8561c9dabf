/* wasm_native.c: the native sampler's numbers, which tests/wasm_check.py
 * holds a wasm sampler's (as its page shows them) to.  Built with gcc, with
 * the sampler genc --sampler --weights-file emits for the same checkpoint
 * (the same numbers as baked-in weights, and far quicker to compile):
 *     cc -DNAME=x -DUNAME=X -DSAMPLER_H='"x.h"' [-DTRANSLATORS] tests/wasm_native.c x.c -lm
 *     wasm_native x.bin sample SEED LABEL   one sample, as NAME_sample_seed draws it
 *     wasm_native x.bin ab FILE             G of the example in FILE (A_SIZE numbers)
 *     wasm_native x.bin ba FILE             F of the example in FILE (B_SIZE numbers)
 * Each prints the output's floats, one per line, exactly (%.9g). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include SAMPLER_H

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define API(f) CAT(NAME, f)
#define DEF(m) CAT(UNAME, m)

static void print(const float *v, long n) {
    for (long i = 0; i < n; i++)
        printf("%.9g\n", v[i]);
}

/* NAME.bin's bytes, handed to NAME_init (malloc's alignment suits it) */
static int load_weights(const char *path) {
    FILE *f = fopen(path, "rb");
    long n = f && !fseek(f, 0, SEEK_END) ? ftell(f) : -1;
    char *blob = n > 0 ? malloc((size_t)n) : NULL;
    if (!blob || fseek(f, 0, SEEK_SET) || fread(blob, 1, (size_t)n, f) != (size_t)n || API(init)(blob, (unsigned long)n)) {
        fprintf(stderr, "wasm_native: cannot load the weights %s\n", path);
        return -1;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: wasm_native NAME.bin (sample SEED LABEL | ab FILE | ba FILE)\n");
        return 2;
    }
    if (load_weights(argv[1]))
        return 2;
    argv++;
#ifdef TRANSLATORS
    static float in[DEF(A_SIZE) > DEF(B_SIZE) ? DEF(A_SIZE) : DEF(B_SIZE)], out[sizeof in / sizeof *in];
    int ab = !strcmp(argv[1], "ab");
    long n_in = ab ? DEF(A_SIZE) : DEF(B_SIZE), n_out = ab ? DEF(B_SIZE) : DEF(A_SIZE);
    FILE *f = fopen(argv[2], "r");
    if (!f || (!ab && strcmp(argv[1], "ba"))) {
        fprintf(stderr, "wasm_native: cannot read %s or not ab/ba: %s\n", argv[2], argv[1]);
        return 2;
    }
    for (long i = 0; i < n_in; i++)
        if (fscanf(f, "%f", &in[i]) != 1) {
            fprintf(stderr, "wasm_native: %s: expected %ld numbers\n", argv[2], n_in);
            return 2;
        }
    fclose(f);
    (ab ? API(translate_ab) : API(translate_ba))(in, out);
    print(out, n_out);
#else
    static float out[DEF(OUT_SIZE)];
    uint64_t seed = strtoull(argv[2], NULL, 10);
#if DEF(N_CLASSES) > 0
    API(sample_seed)(seed, atoi(argv[3]), out);
#else
    API(sample_seed)(seed, out);
#endif
    print(out, DEF(OUT_SIZE));
#endif
    return 0;
}
