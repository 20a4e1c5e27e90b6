/* A native program whose memory goes two ways, for heap profiles:
 * cache_add keeps 4 KiB a tick, for ever; decoy allocates 64 KiB four
 * times a tick and frees it. Runs until killed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept[1 << 20];
static int nkept;

__attribute__((noinline)) void cache_add(void) {
    void *p = malloc(4096);
    memset(p, 1, 4096);
    if (nkept < (1 << 20)) kept[nkept++] = p;
}

__attribute__((noinline)) int decoy(void) {
    volatile char *p = malloc(65536);
    memset((char *)p, 2, 65536);
    int x = p[100];
    free((void *)p);
    return x;
}

int main(void) {
    for (;;) {
        cache_add();
        for (int i = 0; i < 4; i++) decoy();
        usleep(5000);
    }
}
