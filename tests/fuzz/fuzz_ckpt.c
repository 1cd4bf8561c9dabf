/* fuzz_ckpt.c: libFuzzer harness for the checkpoint reader.
 *
 * The input is the file: genrt_ckpt_read reads it by path from a memfd
 * (/proc/self/fd/N, no file on disk), then genrt_ckpt_match checks it
 * against a model whose hash and size are the file's own or off by one,
 * so both ways through the match are taken. */
#include "genrt_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memfd.h"

static volatile unsigned char touched; /* keeps the reads below */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    struct genrt_ckpt c;
    struct genrt_err err;
    if (genrt_ckpt_read(path, &c, &err) == 0) {
        /* everything the reader hands back lies in its buffer */
        const unsigned char *state = c.state, *blob = c.blob;
        unsigned char sum = 0;
        for (uint64_t i = 0; i < c.n_state * c.real_size; i++)
            sum += state[i];
        for (uint64_t i = 0; i < c.blob_size; i++)
            sum += blob[i];
        touched = sum;
        uint64_t off = size % 3 == 0;
        genrt_ckpt_match(&c, path, c.shape_hash + off, c.real_size, c.n_state, &err);
        genrt_ckpt_match(&c, path, c.shape_hash, c.real_size, c.n_state + off, &err);
        genrt_ckpt_free(&c);
    }
    close(fd);
    return 0;
}
