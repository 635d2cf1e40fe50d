#!/usr/bin/env bash
# digby-server vs redis-server under redis-benchmark (issue 4, "Benchmark").
#
# Builds digby-server, starts a digby-server and a redis-server (appendonly
# yes) per mode (--appendfsync everysec, always, and always with digby's
# commit log against Redis's always), each on its own free port with a
# fresh data directory, and runs
# the same redis-benchmark workloads against each, interleaved (workload by
# workload, alternating which server goes first) and repeated. It prints one
# line per run (with each server's anonymous RSS and on-disk size after the run) and a
# table of medians.
#
# Needs go, redis-server and redis-benchmark
# (Debian: apt-get install -y redis-server redis-tools).
#
# Environment:
#   BENCH_N        requests per run at -P 1  (default 30000)
#   BENCH_N_PIPE   requests per run at -P 16 (default 100000)
#   BENCH_MSET_DIV MSET (10 keys a request) runs -n divided by this (default 5)
#   BENCH_REPS     repetitions; the table shows medians (default 3)
#   BENCH_CLIENTS  redis-benchmark -c (default 50)
#   BENCH_KEYSPACE redis-benchmark -r (default 1000000)
#   BENCH_PRELOAD  SETs each server gets before the runs (-P 16, -r BENCH_KEYSPACE;
#                  default 0): the rows then measure a data set of that size,
#                  e.g. BENCH_PRELOAD=5000000 BENCH_KEYSPACE=5000000 (3.2M keys)
#   BENCH_MODES    appendfsync modes to run (default "everysec always always+log";
#                  always+log: digby with --commit-log yes, Redis with always)
#   BENCH_TESTS    workloads, space separated, each TEST:PIPELINE[:VALUE_SIZE]
#                  (default "set:1 get:1 incr:1 mset:1 set:16 get:16 incr:16 mset:16 set:1:1024 set:16:1024")
#   BENCH_OUT      also write the per-run results (TSV) to this file
#   DIGBY_SERVER   use this digby-server binary instead of building one
#   DIGBY_ARGS     more digby-server flags, e.g. "--event-loops 1"
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_N:-30000}
N_PIPE=${BENCH_N_PIPE:-100000}
MSET_DIV=${BENCH_MSET_DIV:-5}
REPS=${BENCH_REPS:-3}
CLIENTS=${BENCH_CLIENTS:-50}
KEYSPACE=${BENCH_KEYSPACE:-1000000}
PRELOAD=${BENCH_PRELOAD:-0}
MODES=${BENCH_MODES:-everysec always always+log}
TESTS=${BENCH_TESTS:-set:1 get:1 incr:1 mset:1 set:16 get:16 incr:16 mset:16 set:1:1024 set:16:1024}

for tool in redis-server redis-benchmark redis-cli; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench.sh: $tool not found (Debian: apt-get install -y redis-server redis-tools)" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/digby-bench.XXXXXX")
declare -A PID PORT DIR
cleanup() {
	local p
	for p in "${PID[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PID[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${DIGBY_SERVER:-}" ]; then
	digby=$DIGBY_SERVER
else
	digby=$work/digby-server
	go build -o "$digby" ./cmd/digby-server
fi

# freeport prints a TCP port below the ephemeral range that nothing listens
# on and none of ours uses.
freeport() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		case " ${PORT[*]:-} " in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# start NAME KIND MODE: start a server and wait until it answers PING (on
# another port if the one picked was taken meanwhile).
start() {
	local name=$1 kind=$2 mode=$3 port dir try i
	dir=$work/$name
	mkdir -p "$dir/data"
	for try in 1 2 3 4 5; do
		port=$(freeport)
		: >"$dir/log"
		# MODE always+log: digby with its commit log, Redis with always.
		if [ "$kind" = digby ]; then
			log=no
			[ "${mode%+log}" != "$mode" ] && log=yes
			# shellcheck disable=SC2086 # DIGBY_ARGS is split into flags
			"$digby" --port "$port" --dir "$dir/data" --appendfsync "${mode%+log}" --commit-log "$log" ${DIGBY_ARGS:-} 2>"$dir/log" &
		else
			redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/data" --appendonly yes \
				--appendfsync "${mode%+log}" --save "" --daemonize no --logfile "$dir/log" &
		fi
		PID[$name]=$!
		PORT[$name]=$port
		DIR[$name]=$dir/data
		for i in $(seq 200); do
			if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
				return
			fi
			if ! kill -0 "${PID[$name]}" 2>/dev/null; then
				break
			fi
			sleep 0.05
		done
		kill "${PID[$name]}" 2>/dev/null || true
		wait "${PID[$name]}" 2>/dev/null || true
		if ! grep -qi "address already in use" "$dir/log"; then
			break
		fi
	done
	echo "bench.sh: $name did not start:" >&2
	cat "$dir/log" >&2
	exit 1
}

# Anonymous resident memory (RssAnon): digby reads its data file through a
# mapping, and the page-cache pages it has read count in VmRSS as RssFile
# (shared, reclaimable); Redis's memory is all anonymous.
rss_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
disk_kb() { du -sk "$1" 2>/dev/null | awk '{print $1}'; }
# CPU time (user and system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK)

for mode in $MODES; do
	start "digby-$mode" digby "$mode"
	start "redis-$mode" redis "$mode"
done

if [ "$PRELOAD" -gt 0 ]; then
	for mode in $MODES; do
		for kind in digby redis; do
			out=$(redis-benchmark -p "${PORT[$kind-$mode]}" -t set -n "$PRELOAD" -c "$CLIENTS" -P 16 \
				-r "$KEYSPACE" -q 2>&1) || {
				echo "bench.sh: preload failed against $kind-$mode: $out" >&2
				exit 1
			}
		done
	done
fi

results=$work/results.tsv
: >"$results"
echo "digby-server vs redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'): -c $CLIENTS -r $KEYSPACE, -n $N at -P 1, -n $N_PIPE at -P 16 (MSET: divided by $MSET_DIV), $REPS repetitions, $PRELOAD SETs first"
printf '%-4s %-12s %-9s %-6s %10s %8s %8s %8s %9s %9s\n' rep workload mode server ops/s p50_ms p99_ms cpu_us rss_MiB disk_MiB

# one REP WORKLOAD MODE SERVER: run a workload against one server, record a line.
one() {
	local rep=$1 wl=$2 mode=$3 kind=$4 name="$4-$3"
	local test pipe size n csv line rps p50 p99 rss disk t0 cpu
	IFS=: read -r test pipe size <<<"$wl"
	size=${size:-3}
	n=$N
	[ "$pipe" -gt 1 ] && n=$N_PIPE
	[ "$test" = mset ] && n=$((n / MSET_DIV))
	t0=$(cpu_ticks "${PID[$name]}")
	csv=$(redis-benchmark -p "${PORT[$name]}" -t "$test" -n "$n" -c "$CLIENTS" -P "$pipe" \
		-r "$KEYSPACE" -d "$size" --csv 2>&1) || {
		echo "bench.sh: redis-benchmark failed against $name: $csv" >&2
		exit 1
	}
	# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
	line=$(printf '%s\n' "$csv" | tr -d '"' | awk -F, 'NR > 1 && $2 + 0 > 0 {print $2, $5, $7; exit}')
	if [ -z "$line" ]; then
		echo "bench.sh: no result from redis-benchmark against $name: $csv" >&2
		exit 1
	fi
	read -r rps p50 p99 <<<"$line"
	# microseconds of server CPU a request
	cpu=$(awk -v a="$t0" -v b="$(cpu_ticks "${PID[$name]}")" -v hz="$TICKS" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}')
	rss=$(rss_kb "${PID[$name]}")
	disk=$(disk_kb "${DIR[$name]}")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$wl" "$mode" "$kind" "$rps" "$p50" "$p99" "$rss" "$disk" "$cpu" >>"$results"
	printf '%-4s %-12s %-9s %-6s %10.0f %8s %8s %8s %9.1f %9.1f\n' "$rep" "$wl" "$mode" "$kind" "$rps" "$p50" "$p99" "$cpu" \
		"$(echo "$rss" | awk '{print $1/1024}')" "$(echo "$disk" | awk '{print $1/1024}')"
}

for rep in $(seq "$REPS"); do
	for wl in $TESTS; do
		for mode in $MODES; do
			if [ $((rep % 2)) -eq 1 ]; then
				one "$rep" "$wl" "$mode" digby
				one "$rep" "$wl" "$mode" redis
			else
				one "$rep" "$wl" "$mode" redis
				one "$rep" "$wl" "$mode" digby
			fi
		done
	done
done

if [ -n "${BENCH_OUT:-}" ]; then
	cp "$results" "$BENCH_OUT"
fi

echo
echo "Medians of $REPS runs (ops/s; latencies in ms; server CPU in us a request; RSS and disk in MiB after the last run):"
echo
echo "| workload | fsync | digby ops/s | redis ops/s | digby/redis | digby p50/p99 | redis p50/p99 | CPU digby/redis | digby RSS/disk | redis RSS/disk |"
echo "| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |"
for wl in $TESTS; do
	for mode in $MODES; do
		awk -F'\t' -v wl="$wl" -v mode="$mode" '
			function median(a, n,    i, j, t) {
				for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
				return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			}
			$2 == wl && $3 == mode {
				k = $4; n[k]++
				rps[k, n[k]] = $5; p50[k, n[k]] = $6; p99[k, n[k]] = $7
				rss[k] = $8; disk[k] = $9; cpu[k, n[k]] = $10
			}
			END {
				for (s = 1; s <= 2; s++) {
					k = s == 1 ? "digby" : "redis"
					delete a; for (i = 1; i <= n[k]; i++) a[i] = rps[k, i]; r[k] = median(a, n[k])
					delete a; for (i = 1; i <= n[k]; i++) a[i] = p50[k, i]; m50[k] = median(a, n[k])
					delete a; for (i = 1; i <= n[k]; i++) a[i] = p99[k, i]; m99[k] = median(a, n[k])
					delete a; for (i = 1; i <= n[k]; i++) a[i] = cpu[k, i]; mcpu[k] = median(a, n[k])
				}
				split(wl, f, ":")
				name = toupper(f[1]) " -P " f[2] (f[3] != "" ? " -d " f[3] : "")
				printf "| %s | %s | %.0f | %.0f | %.2f | %.3f / %.3f | %.3f / %.3f | %.2f / %.2f | %.1f / %.1f | %.1f / %.1f |\n",
					name, mode, r["digby"], r["redis"], (r["redis"] > 0 ? r["digby"] / r["redis"] : 0),
					m50["digby"], m99["digby"], m50["redis"], m99["redis"], mcpu["digby"], mcpu["redis"],
					rss["digby"] / 1024, disk["digby"] / 1024, rss["redis"] / 1024, disk["redis"] / 1024
			}' "$results"
	done
done
