/* fuzz_idx.c: libFuzzer harness for the IDX (Fashion-MNIST) reader.
 *
 * The input is [flags][u16 n, little-endian][n bytes: the image file][the
 * label file], each plain or gzip'd, handed to the reader as memfds
 * (memfd.h).  The model takes its image size from the image file's header
 * when that is small, so inputs get past the shape check; flags pick the
 * class filter and a conditional model's classes.  A loaded set is then
 * filtered, shuffled and served in batches, and its state restored, as a
 * trainer does.  genrt_data.c is included for its static loaders. */
#include "genrt_data.c"

#include "memfd.h"

static uint32_t be32_at(const uint8_t *p, size_t n, size_t off, uint32_t dflt) {
    return off + 4 <= n ? be32(p + off) : dflt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    uint8_t flags = data[0];
    size_t n_img = data[1] | (size_t)data[2] << 8;
    data += 3, size -= 3;
    n_img = n_img < size ? n_img : size;
    char ipath[64], lpath[64];
    int ifd = fuzz_memfd(data, n_img, ipath, sizeof ipath);
    int lfd = fuzz_memfd(data + n_img, size - n_img, lpath, sizeof lpath);

    struct genrt_model m = {0};
    uint32_t h = be32_at(data, n_img, 8, 28), w = be32_at(data, n_img, 12, 28);
    m.data_kind = GENRT_DATA_FASHION_MNIST;
    m.img_c = 1;
    m.img_h = h >= 1 && h <= 64 ? (int)h : 28;
    m.img_w = w >= 1 && w <= 64 ? (int)w : 28;
    m.sample_size = (long)m.img_h * m.img_w;
    m.range_lo = -1;
    m.range_hi = 1;
    m.data_class = flags & 0x10 ? flags & 0x0f : -1;
    m.n_classes = flags & 0x20 ? GENRT_DATA_FMNIST_CLASSES : 0;

    struct genrt_data d = {0};
    struct genrt_err err;
    d.kind = m.data_kind;
    d.seed = flags;
    d.sample_size = m.sample_size;
    d.data_class = m.data_class;
    if (load_idx_files(&d, &m, ipath, lpath, &err) == 0 && check_classes(&d, &m, ipath, &err) == 0 &&
        (d.data_class < 0 || keep_class(&d, d.data_class, ipath, 1, &err) == 0)) {
        start_epochs(&d, &m);
        int batch = 1 + (int)(flags >> 6) * 3;
        float *out = genrt_file_xmalloc(sizeof(float) * (size_t)batch * (size_t)m.sample_size);
        int labels[16];
        struct genrt_data_state st;
        for (int k = 0; k < 3; k++) {
            genrt_data_get_state(&d, &st);
            genrt_data_next_batch_labels(&d, out, labels, batch);
        }
        genrt_data_set_state(&d, &st, &err);
        genrt_data_read(&d, 0, d.n < batch ? d.n : batch, out, labels);
        free(out);
    }
    genrt_data_close(&d);
    close(ifd);
    close(lfd);
    return 0;
}
