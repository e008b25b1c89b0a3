/* fuzz/driver_replay.c - the plain replay driver: runs LLVMFuzzerTestOneInput once per
   file named on the command line, or per regular file of a directory (in name order).
   Used by CTest to replay the committed corpora; exits 2 when nothing was replayed. A
   violation aborts inside the harness; a real fd leaked (or closed) by an input aborts
   here (fz_fdcheck.h). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fz_fdcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    fz_fds fds;
    unsigned char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    size_t n;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    do {
        if (len == cap) {
            unsigned char *nb;
            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    if (getenv("FZ_VERBOSE") != NULL) {
        fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    }
    fz_fds_take(&fds);
    (void)LLVMFuzzerTestOneInput(buf, len);
    fz_fds_check(&fds, path);
    free(buf);
    return 0;
}

static int only_files(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    long replayed = 0;
    int i;

    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }
        if (S_ISDIR(st.st_mode)) {
            struct dirent **list = NULL;
            int n = scandir(argv[i], &list, only_files, alphasort);
            int k;
            if (n < 0) {
                perror(argv[i]);
                return 2;
            }
            for (k = 0; k < n; k++) {
                char path[4096];
                struct stat fst;
                snprintf(path, sizeof(path), "%s/%s", argv[i], list[k]->d_name);
                if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode)) {
                    if (replay_file(path) != 0) {
                        return 2;
                    }
                    replayed++;
                }
                free(list[k]);
            }
            free(list);
        } else {
            if (replay_file(argv[i]) != 0) {
                return 2;
            }
            replayed++;
        }
    }
    printf("replayed %ld inputs, no violation\n", replayed);
    return replayed > 0 ? 0 : 2;
}
