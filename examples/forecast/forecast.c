/* Streams a yearly series through a Recur forecaster one step at a time and
 * compares its one-year-ahead forecasts with the actual values and with the
 * naive forecast (next year = this year), over the held-out years.
 *
 *   forecast MODEL.recur SERIES.csv [FIRST_HELD_OUT_YEAR]
 *
 * SERIES.csv: "year,value" lines; lines starting with '#' and the header are
 * skipped. Build: cc forecast.c $(pkg-config --cflags --libs recur) -lm */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <recur.h>

#define MAX_POINTS 100000

static int fail(const char *what, recur_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, recur_status_string(st), recur_last_error());
    return 1;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.recur SERIES.csv [FIRST_HELD_OUT_YEAR]\n", argv[0]);
        return 2;
    }
    int held_from = argc > 3 ? atoi(argv[3]) : 1949;

    static int years[MAX_POINTS];
    static float values[MAX_POINTS], forecasts[MAX_POINTS];
    FILE *f = fopen(argv[2], "r");
    if (!f) { perror(argv[2]); return 1; }
    char line[256];
    int n = 0;
    while (n < MAX_POINTS && fgets(line, sizeof line, f))
        if (sscanf(line, "%d,%f", &years[n], &values[n]) == 2) n++;
    fclose(f);
    if (n < 2) { fprintf(stderr, "%s: fewer than two data lines\n", argv[2]); return 1; }

    recur_model *model = NULL;
    recur_status st = recur_model_load_file(argv[1], &model);
    if (st != RECUR_OK) return fail(argv[1], st);
    if (recur_model_input_size(model) != 1 || recur_model_output_size(model) != 1) {
        fprintf(stderr, "%s: expected a model with 1 input and 1 output\n", argv[1]);
        return 1;
    }
    recur_stream *stream = NULL;
    if ((st = recur_stream_create(model, &stream)) != RECUR_OK) return fail("recur_stream_create", st);

    /* The forecast for year t+1 is the output after reading year t. */
    for (int t = 0; t < n; t++)
        if ((st = recur_step(stream, &values[t], 1, &forecasts[t], 1)) != RECUR_OK) return fail("recur_step", st);

    printf("Recur %s — one-year-ahead sunspot forecasts, model %s\n\n", recur_version(), argv[1]);
    printf("  year   actual  forecast  naive  |  error  naive error\n");
    double abs_model = 0, abs_naive = 0, sq_model = 0, sq_naive = 0;
    int count = 0;
    for (int t = 1; t < n; t++) {
        if (years[t] < held_from) continue;
        double e = forecasts[t - 1] - values[t], e0 = values[t - 1] - values[t];
        printf("  %4d  %7.1f  %8.1f  %5.1f  | %6.1f  %6.1f\n", years[t], values[t], forecasts[t - 1],
               values[t - 1], e, e0);
        abs_model += fabs(e); abs_naive += fabs(e0);
        sq_model += e * e; sq_naive += e0 * e0;
        count++;
    }
    if (count == 0) { fprintf(stderr, "no year from %d on in %s\n", held_from, argv[2]); return 1; }
    printf("\nheld-out years %d-%d (%d forecasts, never seen in training):\n", held_from, years[n - 1], count);
    printf("  mean absolute error   recur %6.2f   naive last-value %6.2f   (%.0f%% lower)\n",
           abs_model / count, abs_naive / count, 100.0 * (1 - abs_model / abs_naive));
    printf("  root mean sq. error   recur %6.2f   naive last-value %6.2f\n",
           sqrt(sq_model / count), sqrt(sq_naive / count));

    /* Speed: the whole series, again and again; best of 7 rounds. */
    const int reps = 2000;
    double best = INFINITY;
    float y;
    for (int round = 0; round < 7; round++) {
        double t0 = now_ns();
        for (int r = 0; r < reps; r++) {
            recur_stream_reset(stream);
            for (int t = 0; t < n; t++) recur_step(stream, &values[t], 1, &y, 1);
        }
        double per = (now_ns() - t0) / ((double)reps * n);
        if (per < best) best = per;
    }
    printf("  speed                 %.1f ns per recur_step (LSTM 1->32 + Dense 32->1, best of 7 x %d steps)\n",
           best, reps * n);

    recur_stream_free(stream);
    recur_model_free(model);
    return 0;
}
