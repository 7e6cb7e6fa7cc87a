// SPDX-License-Identifier: GPL-2.0
/*
 * dmpstat: an iostat-like view of dmp devices, from the counters in
 * /sys/module/dmp/stat, as a table, JSON lines or Prometheus metrics.
 *
 *   dmpstat [-j] [-y] [-t] [-d DEV]... [INTERVAL [COUNT]]
 *   dmpstat --prometheus [-d DEV]...
 *   dmpstat --prometheus-file PATH [-d DEV]... [INTERVAL [COUNT]]
 *
 * Each report shows the difference between two snapshots of the counters
 * divided by the time between them.  The first report compares with zero:
 * everything since the counters began (the device's creation or its last
 * reset, "reset_ns"), per second since then.  An interval in which a
 * device was reset or created again counts from that moment, likewise.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmpstat.h"

#ifndef DMPSTAT_VERSION
#define DMPSTAT_VERSION "unknown"
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fputs(
"usage: dmpstat [-j] [-y] [-t] [-d DEV]... [INTERVAL [COUNT]]\n"
"       dmpstat --prometheus [-d DEV]...\n"
"       dmpstat --prometheus-file PATH [-d DEV]... [INTERVAL [COUNT]]\n"
"\n"
"Statistics of every dmp device and of all of them together (\"all\"), from\n"
"" DMP_STAT_ROOT ".  Without INTERVAL: one report of everything since the\n"
"counters began (each device's creation or last reset; rates per second\n"
"since then).  With INTERVAL (seconds, may be fractional): that report, then\n"
"one every INTERVAL seconds for what happened in it, COUNT reports in all or\n"
"until interrupted (SIGINT/SIGTERM end it after the current report).\n"
"Devices that appear or go away meanwhile are noted on stderr, and so are\n"
"counter resets and devices created again: such a device's report counts\n"
"from the reset (or creation) on, over the time since.\n"
"\n"
"  -d, --device DEV   only DEV: a device-mapper name, major:minor or \"all\";\n"
"                     may be repeated (default: every device and \"all\")\n"
"  -j, --json         one JSON object per report and line\n"
"  -y, --omit-first   skip the first report (since the counters began)\n"
"  -t, --time         print the time before each table\n"
"      --prometheus   print the counters once in the Prometheus text format\n"
"      --prometheus-file PATH\n"
"                     write them to PATH atomically (write + rename), for\n"
"                     node_exporter's textfile collector; with INTERVAL,\n"
"                     rewrite it every INTERVAL seconds\n"
"  -h, --help         this help\n"
"  -V, --version      the version\n"
"\n"
"Table columns (per second over the interval unless noted):\n"
"  r/s w/s            read / write requests\n"
"  rkB/s wkB/s        KiB read / written\n"
"  rareq-sz wareq-sz  average read / write size in KiB\n"
"  f/s d/s            empty flushes; discards, secure erases, write-zeroes\n"
"  rseq% wseq%        reads / writes that started where the previous one\n"
"                     ended (- if none)\n"
"  errs               reads and writes that failed (a count, not a rate)\n"
"  inflt              requests in flight at the end of the interval\n"
"  r_p50 r_p99 w_p50 w_p99\n"
"                     latency percentiles from the log2 histograms,\n"
"                     interpolated linearly inside the bucket (- if no timed\n"
"                     request; >1.05s if in the last, open bucket)\n"
"\n"
"Exit status: 0, or 1 on an error (module not loaded, bad arguments).\n"
"Environment: DMPSTAT_ROOT replaces " DMP_STAT_ROOT ".\n", f);
}

/* What happened to one device between two snapshots. */
struct delta {
	const struct dev *d;	/* the later snapshot */
	struct dev v;		/* counters: differences; in_flight: now */
	double since;		/* CLOCK_BOOTTIME s: what @v counts began */
	double secs;		/* the time @v covers */
	int reset;		/* a new epoch began in the interval: @v counts
				 * from it, not from the previous snapshot */
	int replaced;		/* created again, with the same number */
	uint64_t resets;	/* resets in the interval */
};

static void sub(uint64_t *to, const uint64_t *now, const uint64_t *then,
		size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		to[i] = now[i] - then[i];
}

/*
 * The difference between @now and @then (NULL: since the counters began).
 * The counters of another epoch than @then's (reset, or the device removed
 * and created again, within the interval) are counted from that epoch's
 * start, and over the time since then: never subtracted from @then's.
 * keep_monotonic() made sure nothing went back within one epoch.
 */
static void delta(struct delta *r, const struct dev *now,
		  const struct dev *then)
{
	int i;

	r->d = now;
	r->v = *now;
	r->since = now->st[S_RESET_NS] / 1e9;
	if (then && same_epoch(now, then)) {
		r->since = then->t;
		sub(r->v.st, now->st, then->st, NCOUNTERS);
		sub(&r->v.st[S_BOUNCED], &now->st[S_BOUNCED],
		    &then->st[S_BOUNCED], S_RESETS - S_BOUNCED);
		for (i = 0; i < 2; i++) {
			sub(r->v.lat[i], now->lat[i], then->lat[i], LAT_BUCKETS);
			sub(r->v.size[i], now->size[i], then->size[i],
			    SIZE_BUCKETS);
		}
	} else if (then) {
		r->reset = 1;
		r->replaced = now->st[S_CREATED_NS] != then->st[S_CREATED_NS];
		r->resets = r->replaced ? now->st[S_RESETS] :
			    now->st[S_RESETS] - then->st[S_RESETS];
	}
	r->secs = now->t - r->since;
	if (r->secs <= 0)	/* a copy of another machine's tree */
		r->secs = 1e-9;
}

static uint64_t hist_sum(const uint64_t *h, size_t n)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += h[i];
	return s;
}

/*
 * The pct-th percentile of a latency histogram in microseconds, or -1 if
 * it is empty: found in the first bucket whose cumulative count reaches
 * pct% of the total, interpolated linearly between the bucket's bounds
 * (as Prometheus' histogram_quantile()).  In the last bucket, which has no
 * upper bound, it is that bucket's lower bound and *over is set.
 */
static double lat_pct(const uint64_t *h, unsigned int pct, int *over)
{
	uint64_t total = hist_sum(h, LAT_BUCKETS), cum = 0;
	double lo, hi;
	int i;

	*over = 0;
	if (!total)
		return -1;
	for (i = 0; i < LAT_BUCKETS; i++) {
		if (h[i] && (cum + h[i]) * 100 >= total * pct)
			break;
		cum += h[i];
	}
	if (i >= LAT_BUCKETS - 1) {
		*over = 1;
		return 1 << (LAT_BUCKETS - 2);
	}
	lo = i ? 1 << (i - 1) : 0;
	hi = 1 << i;
	return lo + (hi - lo) * (total * pct / 100.0 - cum) / h[i];
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / b : 0;
}

/* Everything a report line shows, derived from one delta. */
struct row {
	double r_s, w_s, rkb_s, wkb_s, f_s, d_s, dkb_s, rsz, wsz;
	double seq[2];		/* percent, -1 if no request */
	double await[2];	/* mean latency in us, -1 if none timed */
	double p50[2], p99[2];	/* us, -1 if none timed */
	int over50[2], over99[2];
	uint64_t errs;
};

static void compute(const struct delta *x, struct row *r)
{
	const uint64_t *v = x->v.st;
	double secs = x->secs;
	int i;

	r->r_s = v[S_READ_REQS] / secs;
	r->w_s = v[S_WRITE_REQS] / secs;
	r->rkb_s = v[S_READ_BYTES] / 1024.0 / secs;
	r->wkb_s = v[S_WRITE_BYTES] / 1024.0 / secs;
	r->f_s = v[S_FLUSH_REQS] / secs;
	r->d_s = v[S_DISCARD_REQS] / secs;
	r->dkb_s = v[S_DISCARD_BYTES] / 1024.0 / secs;
	r->rsz = ratio(v[S_READ_BYTES], v[S_READ_REQS]) / 1024;
	r->wsz = ratio(v[S_WRITE_BYTES], v[S_WRITE_REQS]) / 1024;
	r->errs = v[S_READ_ERRORS] + v[S_WRITE_ERRORS];
	for (i = 0; i < 2; i++) {
		uint64_t reqs = v[S_READ_REQS + i];
		uint64_t timed = hist_sum(x->v.lat[i], LAT_BUCKETS);

		r->seq[i] = reqs ? 100.0 * v[S_READ_SEQ + i] / reqs : -1;
		r->await[i] = timed ? v[S_READ_LAT_NS + i] / 1000.0 / timed : -1;
		r->p50[i] = lat_pct(x->v.lat[i], 50, &r->over50[i]);
		r->p99[i] = lat_pct(x->v.lat[i], 99, &r->over99[i]);
	}
}

/* --- the table */

/* A latency in us with 3 significant digits and a unit: 7.81us, 65.5ms. */
static const char *fmt_lat(char *buf, size_t len, double us, int over)
{
	static const char *const unit[] = { "us", "ms", "s" };
	int u = 0;

	if (us < 0)
		return "-";
	if (over)
		return ">1.05s";
	while (us >= 999.5 && u < 2) {
		us /= 1000;
		u++;
	}
	snprintf(buf, len, "%.*f%s", us < 9.995 ? 2 : us < 99.95 ? 1 : 0, us,
		 unit[u]);
	return buf;
}

static const char *fmt_pct(char *buf, size_t len, double pct)
{
	if (pct < 0)
		return "-";
	snprintf(buf, len, "%.1f", pct);
	return buf;
}

static void print_table(const struct delta *x, size_t n, double secs,
			int show_time)
{
	char b[8][32];
	int w = 6, i;
	size_t k;

	for (k = 0; k < n; k++)
		if ((int)strlen(dev_label(x[k].d)) > w)
			w = strlen(dev_label(x[k].d));
	if (show_time) {
		time_t t = time(NULL);
		struct tm tm;

		strftime(b[0], sizeof(b[0]), "%Y-%m-%d %H:%M:%S",
			 localtime_r(&t, &tm));
		printf("%s (%.2f s)\n", b[0], secs);
	}
	printf("%-*s %-7s %8s %8s %9s %9s %8s %8s %7s %7s %5s %5s %4s %5s %6s %6s %6s %6s\n",
	       w, "Device", "maj:min", "r/s", "w/s", "rkB/s", "wkB/s",
	       "rareq-sz", "wareq-sz", "f/s", "d/s", "rseq%", "wseq%", "errs",
	       "inflt", "r_p50", "r_p99", "w_p50", "w_p99");
	for (k = 0; k < n; k++) {
		const struct dev *d = x[k].d;
		struct row r;

		compute(&x[k], &r);
		printf("%-*s %-7s %8.2f %8.2f %9.2f %9.2f %8.2f %8.2f %7.2f %7.2f",
		       w, dev_label(d), d->is_all ? "-" : d->id, r.r_s, r.w_s,
		       r.rkb_s, r.wkb_s, r.rsz, r.wsz, r.f_s, r.d_s);
		for (i = 0; i < 2; i++)
			printf(" %5s", fmt_pct(b[i], sizeof(b[i]), r.seq[i]));
		printf(" %4llu %5llu", (unsigned long long)r.errs,
		       (unsigned long long)d->st[S_IN_FLIGHT]);
		for (i = 0; i < 2; i++)
			printf(" %6s %6s",
			       fmt_lat(b[2 * i], sizeof(b[0]), r.p50[i], r.over50[i]),
			       fmt_lat(b[2 * i + 1], sizeof(b[0]), r.p99[i], r.over99[i]));
		putchar('\n');
	}
	putchar('\n');
}

/* --- JSON lines */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* A number, or null when negative (not applicable). */
static void json_num(const char *key, double v, int prec)
{
	if (v < 0)
		printf(",\"%s\":null", key);
	else
		printf(",\"%s\":%.*f", key, prec, v);
}

static void print_json(const struct delta *x, size_t n, double secs,
		       double real_off, int first)
{
	struct timespec ts;
	size_t k;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	printf("{\"timestamp\":%.3f,\"interval\":%.6f,\"since_start\":%s,\"devices\":[",
	       ts.tv_sec + ts.tv_nsec / 1e9, secs, first ? "true" : "false");
	for (k = 0; k < n; k++) {
		const struct dev *d = x[k].d;
		struct row r;

		compute(&x[k], &r);
		printf("%s{\"device\":", k ? "," : "");
		json_str(dev_label(d));
		printf(",\"devt\":");
		if (d->is_all)
			printf("null");
		else
			json_str(d->id);
		printf(",\"latency\":%s,\"reset\":%s,\"recreated\":%s",
		       d->latency < 0 ? "null" : d->latency ? "true" : "false",
		       x[k].reset ? "true" : "false",
		       x[k].replaced ? "true" : "false");
		for (i = S_RESETS; i <= S_RESET_NS; i++)
			printf(",\"%s\":%llu", stat_names[i],
			       (unsigned long long)d->st[i]);
		printf(",\"created\":%.3f,\"counted_since\":%.3f,\"interval\":%.6f",
		       d->st[S_CREATED_NS] / 1e9 + real_off,
		       x[k].since + real_off, x[k].secs);
		for (i = 0; i <= S_IN_FLIGHT; i++)
			printf(",\"%s\":%llu", stat_names[i],
			       (unsigned long long)x[k].v.st[i]);
		json_num("r_s", r.r_s, 3);
		json_num("w_s", r.w_s, 3);
		json_num("rkB_s", r.rkb_s, 3);
		json_num("wkB_s", r.wkb_s, 3);
		json_num("f_s", r.f_s, 3);
		json_num("d_s", r.d_s, 3);
		json_num("dkB_s", r.dkb_s, 3);
		json_num("rareq_sz", r.rsz, 3);
		json_num("wareq_sz", r.wsz, 3);
		json_num("r_seq_pct", r.seq[RD], 3);
		json_num("w_seq_pct", r.seq[WR], 3);
		json_num("r_await_us", r.await[RD], 3);
		json_num("w_await_us", r.await[WR], 3);
		json_num("r_p50_us", r.p50[RD], 3);
		json_num("r_p99_us", r.p99[RD], 3);
		json_num("w_p50_us", r.p50[WR], 3);
		json_num("w_p99_us", r.p99[WR], 3);
		putchar('}');
	}
	printf("]}\n");
}

/* --- the loop */

struct opts {
	struct select sel;
	int json, omit_first, show_time, prom;
	const char *prom_file;
	double interval;	/* 0: one report */
	unsigned long count;	/* 0: until interrupted */
	const char *root;
};

static void take(const struct opts *o, struct snap *s)
{
	if (snap_read(o->root, s) == SNAP_NO_MODULE) {
		if (strcmp(o->root, DMP_STAT_ROOT))
			die("dmp module not loaded (no %s)", o->root);
		die("dmp module not loaded (no " DMP_STAT_ROOT ")");
	}
}

/* "dmp1 (254:0)", or "all" */
static const char *who(char *buf, size_t len, const struct dev *d)
{
	if (d->is_all)
		snprintf(buf, len, "all");
	else
		snprintf(buf, len, "%s (%s)", dev_label(d), d->id);
	return buf;
}

/* Notes about devices that went away, came, were reset or created again. */
static void notes(const struct opts *o, const struct snap *now,
		  const struct snap *then, const struct delta *x, size_t n)
{
	char a[300], b[300];
	size_t k;

	for (k = 0; k < then->n; k++)
		if (selected(&o->sel, &then->dev[k]) &&
		    !snap_find(now, then->dev[k].id))
			note("device %s removed", who(a, sizeof(a), &then->dev[k]));
	for (k = 0; k < n; k++) {
		const struct dev *old = snap_find(then, x[k].d->id);
		const struct dev *d = x[k].d;
		int renamed = old && strcmp(old->name, d->name);

		if (!old) {
			note("device %s appeared", who(a, sizeof(a), d));
		} else if (x[k].replaced && renamed) {
			note("device %s removed, device %s appeared",
			     who(a, sizeof(a), old), who(b, sizeof(b), d));
		} else if (x[k].replaced) {
			note("device %s was removed and created again: this report counts the %.3f s since %s",
			     who(a, sizeof(a), d), x[k].secs,
			     x[k].resets ? "its last reset" : "it was created");
		} else {
			if (renamed)
				note("device %s is now called %s",
				     who(a, sizeof(a), old), dev_label(d));
			if (x[k].reset && x[k].resets > 1)
				note("counters of %s were reset %llu times: this report counts the %.3f s since the last one",
				     who(a, sizeof(a), d),
				     (unsigned long long)x[k].resets, x[k].secs);
			else if (x[k].reset)
				note("counters of %s were reset: this report counts the %.3f s since",
				     who(a, sizeof(a), d), x[k].secs);
		}
	}
}

/* One report: @then is NULL for the first (since the counters began). */
static void report(const struct opts *o, const struct snap *now,
		   const struct snap *then, int print)
{
	struct delta *x = calloc(now->n, sizeof(*x));
	double secs = then ? now->t - then->t : now->t;
	size_t k, n = 0;

	if (!x)
		die("out of memory");
	for (k = 0; k < now->n; k++)
		if (selected(&o->sel, &now->dev[k]))
			delta(&x[n++], &now->dev[k],
			      then ? snap_find(then, now->dev[k].id) : NULL);
	if (then)
		notes(o, now, then, x, n);
	if (secs <= 0)
		secs = 1e-9;
	if (print && o->json)
		print_json(x, n, secs, now->real_off, !then);
	else if (print)
		print_table(x, n, secs, o->show_time);
	free(x);
	if (fflush(stdout) || ferror(stdout))
		die("cannot write the output: %s", strerror(errno));
}

/* Sleep until @deadline (CLOCK_MONOTONIC); 0 if interrupted by a signal. */
static int sleep_until(const struct timespec *deadline)
{
	int r;

	while ((r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline,
				    NULL)) == EINTR)
		if (stop)
			return 0;
	return !stop;
}

static void check_selection(const struct opts *o, const struct snap *s)
{
	size_t i, k;

	for (i = 0; i < o->sel.n; i++) {
		struct select one = { &o->sel.what[i], 1 };

		for (k = 0; k < s->n; k++)
			if (selected(&one, &s->dev[k]))
				break;
		if (k == s->n)
			die("no dmp device \"%s\" in %s", o->sel.what[i],
			    o->root);
	}
}

static void run(const struct opts *o)
{
	struct snap now, then = { 0 };
	struct timespec next;
	unsigned long done = 0;
	int first = 1;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		take(o, &now);
		if (first)
			check_selection(o, &now);
		else
			keep_monotonic(&now, &then);
		if (o->prom) {
			if (prom_write(&now, &o->sel, o->prom_file))
				exit(1);
			done++;
		} else if (first) {
			report(o, &now, NULL, !o->omit_first);
			done += !o->omit_first;
		} else {
			report(o, &now, &then, 1);
			done++;
		}
		snap_free(&then);
		then = now;
		first = 0;
		if (!o->interval || (o->count && done >= o->count) || stop)
			break;
		next.tv_sec += (time_t)o->interval;
		next.tv_nsec += (long)((o->interval - (time_t)o->interval) * 1e9);
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		if (!sleep_until(&next))
			break;
	}
	snap_free(&then);
}

static double parse_num(const char *s, const char *what, int integer)
{
	char *end;
	double v;

	errno = 0;
	v = integer ? (double)strtoul(s, &end, 10) : strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e7 ||
	    (integer && *s == '-'))
		die("bad %s \"%s\" (try dmpstat --help)", what, s);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "omit-first", no_argument, NULL, 'y' },
		{ "time", no_argument, NULL, 't' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "prometheus-file", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { .root = getenv("DMPSTAT_ROOT") };
	/*
	 * SA_RESTART: a write blocked on a full pipe goes on after ^C; the
	 * sleep between reports is never restarted (signal(7)), so it ends.
	 */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	int c;

	if (!o.root || !*o.root)
		o.root = DMP_STAT_ROOT;
	o.sel.what = calloc(argc, sizeof(*o.sel.what));
	if (!o.sel.what)
		die("out of memory");
	while ((c = getopt_long(argc, argv, "d:jythV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.sel.what[o.sel.n++] = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'y':
			o.omit_first = 1;
			break;
		case 't':
			o.show_time = 1;
			break;
		case 'P':
			o.prom = 1;
			break;
		case 'F':
			o.prom = 1;
			o.prom_file = optarg;
			break;
		case 'h':
			usage(stdout);
			goto out;
		case 'V':
			printf("dmpstat %s\n", DMPSTAT_VERSION);
			goto out;
		default:
			usage(stderr);
			free(o.sel.what);
			return 1;
		}
	}
	if (optind < argc)
		o.interval = parse_num(argv[optind++], "interval", 0);
	if (optind < argc)
		o.count = (unsigned long)parse_num(argv[optind++], "count", 1);
	if (optind < argc)
		die("too many arguments (try dmpstat --help)");
	if (o.prom && (o.json || o.omit_first || o.show_time))
		die("--prometheus does not go with -j, -y or -t");
	if (o.prom && o.interval && !o.prom_file)
		die("--prometheus prints once: use --prometheus-file PATH INTERVAL to repeat");
	if (o.omit_first && !o.interval)
		die("-y needs an INTERVAL");

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	run(&o);
out:
	free(o.sel.what);
	return 0;
}
