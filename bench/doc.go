// Package bench measures digby's store against bbolt on the same workloads.
//
// It holds only tests: the workload helpers, one fast test that checks them
// (both engines end up holding the same data after a small run of every
// workload), and the benchmarks of docs/benchmarks.md, which run only under
// -bench. Each benchmark runs digby and then bbolt on the same keys and
// values and reports, with b.ReportMetric, each engine's throughput, the
// ratio digby/bbolt (above 1 means digby is ahead), the file size and the
// write amplification (bytes written to the data file per byte of keys and
// values the step touched).
//
//	go test -run='^$' -bench=. -benchtime=1x ./bench/
//
// Environment:
//
//	DIGBY_BENCH_KEYS     keys per load (default 1000000)
//	DIGBY_BENCH_DURABLE  single-put durable transactions (default 5000)
//	DIGBY_BENCH_ENGINES  engines to run, comma-separated (default "digby,bbolt";
//	                     "digby" alone is handy with -cpuprofile; "digby-aes"
//	                     is digby with AES-256-GCM encryption at rest, and
//	                     "digby,digby-aes" reports x-aes-speed = aes/plain)
//	DIGBY_BENCH_IDLE     idle time after the deletes and after the relaxed
//	                     load before digby's file is measured again (default
//	                     5s; digby shrinks when idle)
//	DIGBY_BENCH_DIR      where the databases go (default the system temp dir)
//	DIGBY_BENCH_CACHE_MB digby's page cache in MiB (default: digby's default)
//
// Bytes written: digby counts the bytes it writes to its data file and its
// commit log (Stats().BytesWritten + LogBytes); bbolt's are the delta of wchar in /proc/self/io
// (bytes handed to write system calls by the whole process) over the step,
// with only bbolt open at the time, which is the same quantity.
package bench
