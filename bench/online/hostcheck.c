/*
 * hostcheck.c - how much of its CPUs this machine really gets when all of them
 * are busy: a context line for bench/online's latency figures.
 *
 *   hostcheck [SECONDS]        (default 3)
 *
 * Starts one thread per online CPU, pinned to it, each reading CLOCK_MONOTONIC
 * in a tight loop for SECONDS. On an otherwise idle machine nothing in the
 * kernel takes a CPU from such a thread for more than a few microseconds, so a
 * gap between two consecutive readings is time the CPU ran something else: an
 * interrupt, or on a virtual machine the host running another vCPU or tenant.
 * A virtual machine's steal counter (/proc/stat) misses part of that: a vCPU
 * that a host cgroup quota or a co-tenant on the same core slows down is not
 * "runnable and waiting" on the host, so it is not counted.
 *
 * Run it with the machine otherwise quiet: any process of this machine that
 * runs meanwhile shows as gaps too.
 *
 * Prints one line per CPU on stderr and a summary line on stdout:
 *   RESULT cpus=N lost_pct=P max_gap_us=G gaps_over_1ms=K
 * where lost_pct is the mean share of the wall time the threads lost in gaps
 * over 10 us, max_gap_us the longest gap, gaps_over_1ms their count.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct probe {
    int cpu;
    uint64_t dur_ns;
    uint64_t lost_ns, max_gap_ns, gaps_1ms;
    int pinned;
} probe;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *spin(void *arg)
{
    probe *p = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(p->cpu, &set);
    p->pinned = sched_setaffinity(0, sizeof set, &set) == 0;
    uint64_t prev = now_ns(), end = prev + p->dur_ns;
    for (;;) {
        uint64_t t = now_ns(), gap = t - prev;
        if (gap > 10000u) {
            p->lost_ns += gap;
            if (gap > p->max_gap_ns)
                p->max_gap_ns = gap;
            if (gap > 1000000u)
                p->gaps_1ms++;
        }
        prev = t;
        if (t >= end)
            break;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 3.0;
    if (argc > 2 || secs <= 0 || secs > 600) {
        fprintf(stderr, "usage: hostcheck [SECONDS]   (0 < SECONDS <= 600)\n");
        return 2;
    }
    cpu_set_t online;
    if (sched_getaffinity(0, sizeof online, &online)) {
        perror("hostcheck: sched_getaffinity");
        return 1;
    }
    int n = CPU_COUNT(&online);
    probe *ps = calloc((size_t)n, sizeof *ps);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!ps || !th) {
        perror("hostcheck: calloc");
        return 1;
    }
    for (int cpu = 0, k = 0; k < n; cpu++) {
        if (!CPU_ISSET(cpu, &online))
            continue;
        ps[k].cpu = cpu;
        ps[k].dur_ns = (uint64_t)(secs * 1e9);
        k++;
    }
    for (int k = 0; k < n; k++)
        if (pthread_create(&th[k], NULL, spin, &ps[k])) {
            perror("hostcheck: pthread_create");
            return 1;
        }
    uint64_t max_gap = 0, gaps = 0;
    double lost = 0;
    for (int k = 0; k < n; k++) {
        pthread_join(th[k], NULL);
        double pct = 100.0 * (double)ps[k].lost_ns / (double)ps[k].dur_ns;
        fprintf(stderr, "hostcheck: cpu %d%s: lost %.2f%% in gaps over 10 us, %llu over 1 ms, longest %.2f ms\n",
                ps[k].cpu, ps[k].pinned ? "" : " (not pinned)", pct,
                (unsigned long long)ps[k].gaps_1ms, (double)ps[k].max_gap_ns / 1e6);
        lost += pct / n;
        gaps += ps[k].gaps_1ms;
        if (ps[k].max_gap_ns > max_gap)
            max_gap = ps[k].max_gap_ns;
    }
    printf("RESULT cpus=%d lost_pct=%.2f max_gap_us=%llu gaps_over_1ms=%llu\n", n, lost,
           (unsigned long long)(max_gap / 1000u), (unsigned long long)gaps);
    free(ps);
    free(th);
    return 0;
}
