/* A minimal STREAM-style triad in C with OpenMP: the in-run reference the calibration's DRAM bandwidth is compared
   against (bench/calibration_targets.py compiles and runs it). a[i] = b[i] + s*c[i] over double arrays, bytes counted
   as STREAM does (3 x 8 bytes per element), best of NTIMES runs. Usage: stream_ref N_ELEMENTS [NTIMES] */
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 80000000L;
    int ntimes = argc > 2 ? atoi(argv[2]) : 10;
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)), *c = malloc(n * sizeof(double));
    if (!a || !b || !c) { fprintf(stderr, "allocation of 3 x %ld doubles failed\n", n); return 1; }
    #pragma omp parallel for
    for (long i = 0; i < n; i++) { a[i] = 1.0; b[i] = 2.0; c[i] = 0.5; }
    double best = 1e30, s = 3.0;
    for (int k = 0; k < ntimes; k++) {
        double t = omp_get_wtime();
        #pragma omp parallel for
        for (long i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        t = omp_get_wtime() - t;
        if (k > 0 && t < best) best = t;   /* the first pass is a warm-up */
    }
    for (long i = 0; i < n; i += n / 7 + 1) if (a[i] != 3.5) { fprintf(stderr, "triad result wrong at %ld\n", i); return 2; }
    printf("%.3f\n", 3.0 * 8.0 * n / best / 1e9);   /* GB/s */
    return 0;
}
