// SPDX-License-Identifier: GPL-2.0
/*
 * dmptrace: every request of dmp devices as it completes, from the
 * dmp:dmp_complete trace event: a live log (text or JSON lines), tagged
 * with the files it touched, a profile per device and file, and an iolog
 * that fio replays.
 *
 *   dmptrace [-d DEV]... [-r|-w] [-f PATH]... [-t DIR]... [-j] [-o FILE]
 *            [-q] [-s] [-i IOLOG] [-b KIB] [--bounces] [DURATION]
 *   dmptrace --extents (-f PATH | -t DIR)... [-j]
 *
 * See dmptrace(1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dmptrace.h"

#ifndef DMPSTAT_VERSION
#define DMPSTAT_VERSION "unknown"
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static void usage(FILE *f)
{
	fputs(
"usage: dmptrace [-d DEV]... [-r|-w] [-f PATH]... [-t DIR]... [-j] [-o FILE]\n"
"                [-q] [-s] [-i IOLOG] [-b KIB] [--bounces] [DURATION]\n"
"       dmptrace --extents (-f PATH | -t DIR)... [-j]\n"
"\n"
"Every request of dmp devices as it completes, one line each: time, device,\n"
"operation (RWBS), sector, size, latency, error, pid and comm of the task\n"
"that submitted it, and with -f/-t the files it touched.  From the\n"
"dmp:dmp_complete trace event, in a tracefs instance of its own, filtered in\n"
"the kernel.  Runs until SIGINT, SIGTERM, SIGHUP or SIGQUIT, or for\n"
"DURATION (seconds, or with a suffix s, m, h), then prints a summary line\n"
"on stderr.\n"
"\n"
"  -d, --device DEV    only DEV: a device-mapper name, major:minor or a path\n"
"                      to its node; may be repeated (default: every dmp\n"
"                      device, also those created meanwhile)\n"
"  -r, --read          only reads\n"
"  -w, --write         only writes (and flushes: RWBS with W)\n"
"  -f, --file PATH     tag each request with the files it overlaps (FIEMAP\n"
"                      map of PATH on its dmp device, taken at the start);\n"
"                      requests in no mapped file are \"other\"; repeatable\n"
"  -t, --tree DIR      every regular file under DIR, like -f (not across\n"
"                      mount points, not through symbolic links)\n"
"      --extents       print the map of -f/-t (sectors of the dmp device) and\n"
"                      exit\n"
"  -j, --json          one JSON object per line (the last one a summary)\n"
"  -o, --output FILE   the log into FILE instead of stdout\n"
"  -q, --quiet         no log (with -s or -i)\n"
"  -s, --summary       at the end, per device and file: requests and bytes\n"
"                      per operation, sequential %, size and latency\n"
"                      percentiles (on stdout)\n"
"  -i, --iolog FILE    write fio's iolog (version 3) of the requests to FILE,\n"
"                      for fio --read_iolog=FILE [--replay_redirect=DEV]\n"
"  -b, --buffer-size KIB\n"
"                      the ring buffer of each CPU (default: the kernel's)\n"
"      --bounces       also requests that bounced unserviced (error -11,\n"
"                      EAGAIN: a nowait request retried later, which has its\n"
"                      own record); left out by default\n"
"  -h, --help          this help\n"
"  -V, --version       the version\n"
"\n"
"Exit status: 0, or 1 on an error (dmp module not loaded, no tracefs, no\n"
"permission, unknown device or file, bad arguments).\n", f);
}

static void vnote(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("dmptrace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	exit(1);		/* cleanup() runs */
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die("out of memory");
	return p;
}

void *xrealloc(void *p, size_t n, size_t size)
{
	p = reallocarray(p, n ? n : 1, size);
	if (!p)
		die("out of memory");
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("out of memory");
	return p;
}

/* --- options */

struct opts {
	struct trace_opts t;
	int json, quiet, summary, extents;
	const char *out, *iolog;
	double duration;	/* 0: until a signal */
};

static struct {
	const char *path;
	int created;		/* removed again if dmptrace fails before tracing */
} outputs[2];
static int tracing;		/* the instance is enabled */

static void cleanup(void)
{
	int i;

	trace_destroy();
	if (!tracing)
		for (i = 0; i < 2; i++)
			if (outputs[i].created)
				unlink(outputs[i].path);
}

static double parse_duration(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end != s && !errno) {
		if (!strcmp(end, "m"))
			v *= 60;
		else if (!strcmp(end, "h"))
			v *= 3600;
		else if (*end && strcmp(end, "s"))
			end = (char *)s;
	}
	if (end == s || errno || !(v > 0) || v > 1e7)
		die("bad duration \"%s\" (seconds, or with a suffix s, m or h)", s);
	return v;
}

static unsigned long parse_kib(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || !v || v > (1UL << 30))
		die("bad buffer size \"%s\" (KiB per CPU, at least 1)", s);
	return v;
}

static FILE *open_output(int slot, const char *path)
{
	struct stat st;
	FILE *f;

	outputs[slot].path = path;
	outputs[slot].created = stat(path, &st) != 0;
	f = fopen(path, "we");
	if (!f) {
		outputs[slot].created = 0;
		die("cannot write %s: %s", path, strerror(errno));
	}
	return f;
}

/* --- the log */

static FILE *out;
static uint64_t t0_ns;		/* CLOCK_MONOTONIC when tracing began */
static int namew = 6;
static struct {
	uint64_t reqs, op[NOPS], errors, bounced, lost_marks;
} total;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void process(const struct opts *o, const struct ev *evs, size_t n)
{
	size_t i, hit[16], nhit;
	uint64_t overlap[16];

	for (i = 0; i < n; i++) {
		const struct ev *e = &evs[i];
		size_t dev;
		int op;

		if (e->lost) {
			total.lost_marks++;
			if (!o->quiet)
				log_lost(e);
			continue;
		}
		dev = dev_by_kdev(e->kdev);
		op = op_of(e->rwbs, e->bytes);
		total.reqs++;
		total.op[op]++;
		if (e->error == DMP_EAGAIN)
			total.bounced++;
		else if (e->error)
			total.errors++;
		nhit = 0;
		if (nfiles && devs[dev].has_files)
			nhit = files_find(dev, e->sector, e->bytes / 512, hit, 16,
					  overlap);
		if (!o->quiet)
			log_req(e, &devs[dev], hit, nhit);
		if (o->summary || o->iolog)
			report_add(e, dev, op);
	}
}

/* 1 if the log could not be written because its reader went away */
static int flush_out(void)
{
	if (fflush(out) == 0 && !ferror(out))
		return 0;
	if (errno == EPIPE)
		return 1;
	die("cannot write the log: %s", strerror(errno));
}

static void summary_line(const struct opts *o, double secs, uint64_t dropped,
			 const uint64_t *per_cpu, int ncpu, unsigned long kb)
{
	char bounced[32];
	int i;

	/* Without --bounces the kernel filter drops them: none to count. */
	if (o->t.bounces)
		snprintf(bounced, sizeof(bounced), "%llu bounced",
			 (unsigned long long)total.bounced);
	else
		snprintf(bounced, sizeof(bounced), "bounces not traced");
	note("%llu requests (%llu reads, %llu writes, %llu flushes, %llu discards, %llu other; %llu failed, %s) in %.3f s; %llu events dropped by the kernel%s",
	     (unsigned long long)total.reqs, (unsigned long long)total.op[OP_READ],
	     (unsigned long long)total.op[OP_WRITE],
	     (unsigned long long)total.op[OP_FLUSH],
	     (unsigned long long)total.op[OP_DISCARD],
	     (unsigned long long)total.op[OP_OTHER],
	     (unsigned long long)total.errors, bounced, secs,
	     (unsigned long long)dropped,
	     dropped ? " (ring buffer overrun: a larger -b, or fewer requests)" : "");
	if (!o->json || !out)
		return;
	fprintf(out, "{\"summary\":{\"seconds\":%.6f,\"requests\":%llu", secs,
		(unsigned long long)total.reqs);
	for (i = 0; i < NOPS; i++)
		fprintf(out, ",\"%s\":%llu", op_names[i], (unsigned long long)total.op[i]);
	fprintf(out, ",\"errors\":%llu,\"bounced\":%llu,\"bounces_shown\":%s,\"dropped\":%llu,\"dropped_per_cpu\":[",
		(unsigned long long)total.errors, (unsigned long long)total.bounced,
		o->t.bounces ? "true" : "false", (unsigned long long)dropped);
	for (i = 0; i < ncpu; i++)
		fprintf(out, "%s%llu", i ? "," : "", (unsigned long long)per_cpu[i]);
	fprintf(out, "],\"buffer_kb\":%lu,\"instance\":", kb);
	json_str(out, trace_instance_name());
	fputs(",\"filter\":", out);
	json_str(out, trace_filter());
	fputs("}}\n", out);
}

/* "dmp1 (254:0), dmp2 (254:1)" or "every dmp device", for the first note */
static const char *what_traced(const struct opts *o)
{
	static char buf[512];
	size_t i, len = 0;

	if (!o->t.nkdevs)
		return "every dmp device";
	for (i = 0; i < o->t.nkdevs && len < sizeof(buf) - 1; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s (%s)",
				i ? ", " : "", dev_label(&devs[i]), devs[i].id);
	return buf;
}

static void run(struct opts *o)
{
	uint64_t deadline = 0, *per_cpu, dropped;
	unsigned long kb;
	int epipe = 0, gone = 0, ncpu, watch = -1;
	struct timespec rt;
	struct stat st;
	struct ev *evs;
	size_t n, i;
	double secs;

	for (i = 0; i < ndevs; i++)
		if ((int)strlen(dev_label(&devs[i])) > namew)
			namew = strlen(dev_label(&devs[i]));
	/* the log into a pipe: end when its reader does (dmptrace | head) */
	if (!fstat(fileno(out), &st) && S_ISFIFO(st.st_mode))
		watch = fileno(out);
	trace_start(&o->t);
	clock_gettime(CLOCK_REALTIME, &rt);
	t0_ns = mono_ns();
	log_init(out, o->json, nfiles > 0, namew, t0_ns,
		 rt.tv_sec * 1000000000ULL + rt.tv_nsec);
	if (!o->quiet)
		log_header();
	if (flush_out())
		return;
	trace_enable();
	tracing = 1;
	if (o->duration)
		deadline = t0_ns + (uint64_t)(o->duration * 1e9);
	note("tracing %s in %s (buffer %lu KiB per CPU)%s", what_traced(o),
	     trace_instance_name(), trace_buffer_kb(),
	     o->duration ? "" : "; SIGINT or SIGTERM ends it");
	while (!stop && !epipe) {
		int timeout = 100;

		if (deadline) {
			uint64_t now = mono_ns();

			if (now >= deadline)
				break;
			if (deadline - now < 100000000ULL)
				timeout = (deadline - now) / 1000000 + 1;
		}
		evs = trace_read(timeout, watch, &gone, &n);
		process(o, evs, n);
		epipe = flush_out() || gone;
	}
	secs = (mono_ns() - t0_ns) / 1e9;
	trace_stop();
	evs = trace_read(0, -1, NULL, &n);
	if (!epipe) {
		process(o, evs, n);
		epipe = flush_out();
	}
	per_cpu = xcalloc(1024, sizeof(*per_cpu));
	dropped = trace_dropped(per_cpu, &ncpu);
	kb = trace_buffer_kb();
	trace_destroy();

	if (o->iolog) {
		size_t skipped = report_iolog(o->iolog, t0_ns);

		if (skipped)
			note("%s: %zu requests fio cannot issue (write-zeroes, zone management) left out",
			     o->iolog, skipped);
	}
	if (!epipe)
		summary_line(o, secs, dropped, per_cpu, ncpu, kb);
	else
		summary_line(o, secs, dropped, per_cpu, 0, kb);
	free(per_cpu);
	if (!epipe)
		epipe = flush_out();
	if (o->summary && !epipe) {
		report_summary(stdout, o->json);
		if (fflush(stdout) || ferror(stdout))
			die("cannot write the summary: %s", strerror(errno));
	}
	if (out != stdout && fclose(out))
		die("cannot write %s: %s", o->out, strerror(errno));
	if (epipe) {
		/* the reader went away: end as a filter ends, by SIGPIPE */
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
}

/* the -d, -f and -t arguments, in order (-f and -t: kinds 'f' or 't') */
static const char **sel, **paths;
static char *kinds;

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "read", no_argument, NULL, 'r' },
		{ "write", no_argument, NULL, 'w' },
		{ "file", required_argument, NULL, 'f' },
		{ "tree", required_argument, NULL, 't' },
		{ "extents", no_argument, NULL, 'E' },
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "summary", no_argument, NULL, 's' },
		{ "iolog", required_argument, NULL, 'i' },
		{ "buffer-size", required_argument, NULL, 'b' },
		{ "bounces", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	uint32_t *kdevs;
	size_t nsel = 0, npaths = 0, i, k;
	int c;

	atexit(cleanup);
	sel = xcalloc(argc, sizeof(*sel));
	paths = xcalloc(argc, sizeof(*paths));
	kinds = xcalloc(argc, 1);
	while ((c = getopt_long(argc, argv, "d:rwf:t:jo:qsi:b:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			sel[nsel++] = optarg;
			break;
		case 'r':
		case 'w':
			if (o.t.rw && o.t.rw != c)
				die("-r and -w exclude each other (neither: both)");
			o.t.rw = c;
			break;
		case 'f':
		case 't':
			kinds[npaths] = c;
			paths[npaths++] = optarg;
			break;
		case 'E':
			o.extents = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 's':
			o.summary = 1;
			break;
		case 'i':
			o.iolog = optarg;
			break;
		case 'b':
			o.t.buffer_kb = parse_kib(optarg);
			break;
		case 'B':
			o.t.bounces = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dmptrace %s\n", DMPSTAT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc)
		o.duration = parse_duration(argv[optind++]);
	if (optind < argc)
		die("too many arguments (try dmptrace --help)");
	if (o.extents && !npaths)
		die("--extents needs -f PATH or -t DIR");
	if (o.extents && (nsel || o.t.rw || o.out || o.quiet || o.summary ||
			  o.iolog || o.t.buffer_kb || o.t.bounces || o.duration))
		die("--extents goes only with -f, -t and -j");
	if (o.quiet && o.out)
		die("-q (no log) does not go with -o FILE (the log)");
	if (o.out && o.iolog && !strcmp(o.out, o.iolog))
		die("-o and -i name the same file");

	if (!dmp_loaded())
		die("dmp module not loaded (no " DMP_STAT_ROOT ")");
	for (i = 0; i < nsel; i++)
		dev_select(sel[i]);
	for (i = 0; i < npaths; i++) {
		if (kinds[i] == 'f')
			files_add(paths[i]);
		else
			files_add_tree(paths[i]);
	}
	files_index();
	/* with files and no -d: the files' devices */
	for (i = 0; i < nfiles && nsel; i++) {
		for (k = 0; k < nsel && strcmp(devs[files[i].dev].id, devs[k].id); k++)
			;
		if (k == nsel)
			die("%s is on %s (%s), which -d does not select", files[i].path,
			    dev_label(&devs[files[i].dev]), devs[files[i].dev].id);
	}
	if (o.extents) {
		files_print_extents(stdout, o.json);
		if (fflush(stdout) || ferror(stdout))
			die("cannot write the output: %s", strerror(errno));
		return 0;
	}
	kdevs = xcalloc(ndevs, sizeof(*kdevs));
	for (i = 0; i < ndevs; i++)
		kdevs[i] = devs[i].kdev;
	o.t.kdevs = kdevs;
	o.t.nkdevs = ndevs;	/* the selected ones and those of the files */

	trace_check();
	out = o.out ? open_output(0, o.out) : stdout;
	if (o.iolog)
		fclose(open_output(1, o.iolog));
	trace_cleanup_stale();

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	run(&o);
	free(kdevs);
	return 0;
}
