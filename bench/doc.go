// Package bench measures every speed claim slipstream makes, each beside a
// baseline measured in the same run, and writes docs/benchmarks.md (`make
// bench`, which runs ./bench/run). Timings are reported, never asserted:
// this package's tests check its helpers (statistics, the table, the
// document), not how fast anything is.
//
// What goes in: the scenarios (P1 push → commit over git http-backend, P2
// alert → traffic restored, P3 cold start and size, P4 burst, P5 step
// timing, the embedded broker's throughput), each a function returning
// Figures. What comes out: a table on stdout and the document.
package bench
