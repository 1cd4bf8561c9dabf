/* memfd.h: the fuzz harnesses hand their input to readers that open a
 * path: an anonymous memory file, named /proc/self/fd/N, writes nothing
 * to disk. */
#ifndef GENC_FUZZ_MEMFD_H
#define GENC_FUZZ_MEMFD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding data, its path in path; close the returned fd after. */
static int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap) {
    int fd = memfd_create("genc-fuzz", MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) {
            perror("memfd write");
            abort();
        }
        off += (size_t)n;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
