/*
 * replay_main.c - the main of a fuzz target built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on each file named, or on each file of each
 * directory named (in name order), so a plain build replays the seed corpus
 * and the regression inputs (ctest fuzz_replay_<target>). A missing path is
 * an error, so a renamed corpus cannot pass by replaying nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        perror(path);
        buf_free(&b);
        return -1;
    }
    /* Exactly the file's bytes, in an allocation of exactly that size, so
     * ASan and valgrind see a read past the input's end as libFuzzer would. */
    uint8_t *exact = malloc(b.n ? b.n : 1);
    if (!exact) {
        buf_free(&b);
        return -1;
    }
    if (b.n)
        memcpy(exact, b.p, b.n);
    LLVMFuzzerTestOneInput(exact, b.n);
    free(exact);
    buf_free(&b);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st)) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        perror(path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && names[i]->d_name[0] != '.') {
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name);
            rc = replay_path(full, count);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        fprintf(stderr, "replaying %s\n", argv[i]);
        if (replay_path(argv[i], &count))
            return 1;
    }
    fprintf(stderr, "%zu inputs replayed\n", count);
    return 0;
}
