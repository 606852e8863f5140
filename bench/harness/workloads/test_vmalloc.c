/* (g) The scenarios of Linux's lib/test_vmalloc.c (vmalloc_scenarios.h) in
 * one thread, one after the other. Loop count per scenario: 500 quick,
 * 5,000 full (the kernel's default is 1,000,000). Prints each scenario's
 * time. thread_scaling.c runs the same scenarios on N workers. */
#include "vmalloc_scenarios.h"

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "test_vmalloc");
  long loops = PICK(full, 500, 5000);
  /* One worker for all six, so the random scenarios share one stream. */
  static struct tv_worker w = {.rng = 0x7E57, .junk_n = TV_JUNK_MAX, .busy_n = TV_BUSY_MAX};
  double total = 0;
  for (size_t i = 0; i < TV_NSCENARIOS; i++) {
    const struct tv_scenario* s = &tv_scenarios[i];
    double t0 = now_s();
    s->setup(&w);
    for (long j = 0; j < loops; j++) s->step(&w);
    s->teardown(&w);
    double dt = now_s() - t0;
    total += dt;
    printf("t_%s_s=%.6f\n", s->name, dt);
  }
  printf("loop_s=%.6f\nloops=%ld\n", total, loops);
  report_after_free();
  return 0;
}
